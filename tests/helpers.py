"""Small models and hand-made records shared by several tests."""

import json

import pyro
import pyro.distributions as dist
import torch

from pyrovae.models import VAE, Bernoulli, LinearGaussianVAE
from pyrovae.models.contract import data_plate
from pyrovae.nets import MLP, DiagonalGaussianHead


def small_vae(d=12, z=3, hidden=16, seed=0):
    torch.manual_seed(seed)
    return VAE(MLP(d, [hidden], 2 * z), MLP(z, [hidden], d), Bernoulli(), z, (d,))


def binary_data(n=40, d=12, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, d, generator=gen) > 0.5).float()


def linear_oracle(d=10, k=3, seed=0, sigma2=0.3):
    """A LinearGaussianVAE with non-trivial W, mu, sigma² and a guide that is not the posterior."""
    vae = LinearGaussianVAE(d, k, seed=seed)
    gen = torch.Generator().manual_seed(seed + 100)
    vae.set_params(
        W=torch.randn(d, k, generator=gen),
        mu=torch.randn(d, generator=gen),
        sigma2=torch.tensor(sigma2),
    )
    # near the best diagonal guide, but perturbed: mean map off by 5%, variances 1.5x too wide
    vae.set_optimal_guide()
    with torch.no_grad():
        vae.V.mul_(1.0 + 0.05 * torch.randn(k, d, generator=gen))
    vae.set_params(D=1.5 * vae.log_D.exp().detach())
    return vae


def wrong_linear_guide(vae, shift=1.0, widen=3.0):
    """q(z|x) = N(μ_p + shift · sd_p, (widen · sd_p)²) per coordinate of the linear VAE's exact
    posterior: shifted and mis-scaled on purpose (an imperfect whitening map for the samplers)."""

    def guide(x, num_data=None):
        mean, cov = vae.posterior(x)
        sd = cov.diagonal(dim1=-2, dim2=-1).sqrt().detach()
        with data_plate(x, num_data):
            pyro.sample("z", dist.Normal(mean.detach() + shift * sd, widen * sd).to_event(1))

    return guide


def linear_data(vae, n=64, seed=2):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z = torch.randn(n, vae.k, generator=gen, dtype=vae.W.dtype)
        noise = torch.randn(n, vae.d, generator=gen, dtype=vae.W.dtype)
        return z @ vae.W.T + vae.mu + vae.sigma2.sqrt() * noise


class HandWritten:
    """A user's own VAE written as plain Pyro functions (not our VAE class), per the contract."""

    def __init__(self, d=12, z=2, hidden=16, seed=0):
        torch.manual_seed(seed)
        self.encoder = MLP(d, [hidden], 2 * z)
        self.head = DiagonalGaussianHead(z)
        self.decoder = MLP(z, [hidden], d)
        self.z = z

    def model(self, x, num_data=None):
        pyro.module("my_decoder", self.decoder)
        with data_plate(x, num_data):
            z = pyro.sample("code", dist.Normal(x.new_zeros(len(x), self.z), 1.0).to_event(1))
            pyro.sample("pixels", dist.Bernoulli(logits=self.decoder(z)).to_event(1), obs=x)

    def guide(self, x, num_data=None):
        pyro.module("my_encoder", self.encoder)
        with data_plate(x, num_data):
            loc, scale = self.head(self.encoder(x))
            pyro.sample("code", dist.Normal(loc, scale).to_event(1))


def write_results_part(path, **fields):
    """A hand-made ``results.json`` of infovae-comparison (quick profile, seed 0) in the new
    folder ``path``, with ``fields`` added (config, rows, provenance, ...); returns the folder."""
    base = {
        "experiment": "infovae-comparison",
        "claim": "c",
        "paper": "p",
        "profile": "quick",
        "seed": 0,
    }
    path.mkdir()
    (path / "results.json").write_text(json.dumps({**base, **fields}))
    return str(path)


#: infovae-likelihood at toy size: every stage in seconds on a CPU (tests of its stages)
TOY_TABLE1 = {
    "n_train": 200,
    "steps": 4,
    "channels": 4,
    "hidden": 16,
    "n_test": 8,
    "num_samples": 20,
    "ais_points": 4,
    "ais_steps": 3,
    "ais_chains": 2,
    "bdmc_points": 2,
    "anchor_hidden": (16,),
    "anchor_z_dim": 4,
    "anchor_steps": 4,
    "anchor_n_train": 200,
    "anchor_n_test": 8,
}

# infovae-comparison at toy size: one latent size, a few steps, tiny nets (seconds a stage)
TOY_FIGURE6 = {
    "z_dims": "(2,)",
    "steps": "4",
    "n_train": "200",
    "n_test": "50",
    "n_eval": "20",
    "evaluate_every": "2",
    "n_generated": "5",
    "classifier_epochs": "1",
    "n_labels": "100",
    "channels": "4",
    "hidden": "16",
}
