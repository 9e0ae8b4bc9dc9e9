"""VAEs written the way Pyro's own examples write them (not copied from them): no ``num_data``,
plates sized, sizeless or named otherwise, several inputs, an enumerated label, a latent per time
step. Their decoders are linear-Gaussian, so every one has an exact log p(x) to test against.
"""

import math

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import config_enumerate
from torch import nn


def random_points(n, *shape, seed=1):
    """n standard-normal points of the given shape, from their own generator."""
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


def gaussian_log_density(x, mean, cov):
    """log N(x; mean, cov) per row of x (B, d)."""
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)


class LinearDecoder(nn.Module):
    """x | z ~ N(W z + b, σ² I)."""

    def __init__(self, z_dim, x_dim):
        super().__init__()
        self.linear = nn.Linear(z_dim, x_dim)
        self.log_sigma = nn.Parameter(torch.tensor(-0.5))

    def forward(self, z):
        return self.linear(z), self.log_sigma.exp()

    def marginal_cov(self):
        w = self.linear.weight
        return w @ w.T + self.log_sigma.exp() ** 2 * torch.eye(w.shape[0])


class Encoder(nn.Module):
    def __init__(self, x_dim, z_dim):
        super().__init__()
        self.linear = nn.Linear(x_dim, 2 * z_dim)

    def forward(self, x):
        loc, raw = self.linear(x).chunk(2, -1)
        return loc, nn.functional.softplus(raw) + 0.3


class TutorialStyleVAE(nn.Module):
    """The VAE tutorial's shape: ``model(x)`` / ``guide(x)``, a plate over x.shape[0] (or
    sizeless, or named otherwise), sites "latent" and "obs", no num_data."""

    def __init__(self, x_dim=3, z_dim=2, plate="data", sized=True, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.decoder, self.encoder = LinearDecoder(z_dim, x_dim), Encoder(x_dim, z_dim)
        self.z_dim, self.plate, self.sized = z_dim, plate, sized

    def _plate(self, x):
        return pyro.plate(self.plate, x.shape[0]) if self.sized else pyro.plate(self.plate)

    def model(self, x):
        pyro.module("decoder", self.decoder)
        with self._plate(x):
            z_loc = x.new_zeros(torch.Size((x.shape[0], self.z_dim)))
            z_scale = x.new_ones(torch.Size((x.shape[0], self.z_dim)))
            z = pyro.sample("latent", dist.Normal(z_loc, z_scale).to_event(1))
            loc, sigma = self.decoder(z)
            pyro.sample("obs", dist.Normal(loc, sigma).to_event(1), obs=x)

    def guide(self, x):
        pyro.module("encoder", self.encoder)
        with self._plate(x):
            loc, scale = self.encoder(x)
            pyro.sample("latent", dist.Normal(loc, scale).to_event(1))

    def exact_log_marginal(self, x):
        with torch.no_grad():
            return gaussian_log_density(x, self.decoder.linear.bias, self.decoder.marginal_cov())


class LabelVAE(nn.Module):
    """The semi-supervised M2 shape: ``model(xs, ys=None)``, a sizeless plate, a one-hot label
    ``y`` observed when given and enumerated in the guide (config_enumerate) when not."""

    def __init__(self, x_dim=3, z_dim=2, num_classes=3, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.decoder = LinearDecoder(z_dim, x_dim)
        self.class_means = nn.Linear(num_classes, x_dim, bias=False)  # column k: class k's mean
        nn.init.normal_(self.class_means.weight, std=2.0)
        self.encoder_y = nn.Linear(x_dim, num_classes)
        self.encoder_z = Encoder(x_dim + num_classes, z_dim)
        self.z_dim, self.num_classes = z_dim, num_classes
        self.guide = config_enumerate(self.guide_sampled, "parallel", expand=True)

    def model(self, xs, ys=None):
        pyro.module("decoder", self.decoder)
        pyro.module("class_means", self.class_means)
        batch = xs.shape[0]
        with pyro.plate("data"):
            prior = xs.new_ones(batch, self.num_classes) / self.num_classes
            ys = pyro.sample("y", dist.OneHotCategorical(prior), obs=ys)
            z_loc = xs.new_zeros(batch, self.z_dim)
            z = pyro.sample("z", dist.Normal(z_loc, 1.0).to_event(1))
            loc, sigma = self.decoder(z)
            loc = loc + self.class_means(ys)
            pyro.sample("x", dist.Normal(loc, sigma).to_event(1), obs=xs)

    def guide_sampled(self, xs, ys=None):
        """The guide without enumeration (the label sampled: score-function gradients)."""
        pyro.module("encoder_y", self.encoder_y)
        pyro.module("encoder_z", self.encoder_z)
        with pyro.plate("data"):
            if ys is None:
                ys = pyro.sample("y", dist.OneHotCategorical(logits=self.encoder_y(xs)))
            inputs = torch.cat([xs.expand(ys.shape[:-1] + xs.shape[-1:]), ys], -1)
            loc, scale = self.encoder_z(inputs)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    def model_classify(self, xs, ys):
        """The classification term of Kingma et al. 2014 (α · −log q(y|x) on labelled pairs),
        written as Pyro's SS-VAE writes it: an observed site here and an empty guide."""
        pyro.module("encoder_y", self.encoder_y)
        with pyro.plate("data"):
            pyro.sample("y_aux", dist.OneHotCategorical(logits=self.encoder_y(xs)), obs=ys)

    def guide_classify(self, xs, ys):
        pass

    def simulate(self, n, seed):
        """(xs, one-hot ys) drawn from the model."""
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            labels = torch.randint(self.num_classes, (n,), generator=gen)
            ys = nn.functional.one_hot(labels, self.num_classes).float()
            loc, sigma = self.decoder(torch.randn(n, self.z_dim, generator=gen))
            xs = loc + self.class_means(ys) + sigma * torch.randn(loc.shape, generator=gen)
        return xs, ys

    def exact_log_marginal(self, xs, ys=None):
        """log p(x) = log Σ_y p(y) N(x; b + m_y, W Wᵀ + σ² I), or log p(x, y) with ys given."""
        with torch.no_grad():
            cov = self.decoder.marginal_cov()
            means = self.decoder.linear.bias + self.class_means.weight.T  # (K, d)
            per_class = torch.stack(
                [gaussian_log_density(xs, m, cov) for m in means], -1
            ) - math.log(self.num_classes)  # (B, K)
            if ys is not None:
                return (per_class * ys).sum(-1)
            return torch.logsumexp(per_class, -1)


class ConditionalVAE(nn.Module):
    """The conditional VAE's shape: ``model(xs, ys)`` with a prior network p(z|xs), a sizeless
    plate, and targets ``ys`` observed where they are not -1 (a mask)."""

    def __init__(self, x_dim=2, y_dim=3, z_dim=2, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.prior_net = nn.Linear(x_dim, z_dim)
        self.generation_net = LinearDecoder(z_dim, y_dim)
        self.recognition_net = Encoder(x_dim + y_dim, z_dim)
        self.z_dim = z_dim

    def model(self, xs, ys=None):
        pyro.module("generation_net", self.generation_net)
        pyro.module("prior_net", self.prior_net)
        with pyro.plate("data"):
            prior_loc = self.prior_net(xs)
            z = pyro.sample("z", dist.Normal(prior_loc, 1.0).to_event(1))
            loc, sigma = self.generation_net(z)
            observed = ys != -1 if ys is not None else True
            pyro.sample("y", dist.Normal(loc, sigma).mask(observed).to_event(1), obs=ys)

    def guide(self, xs, ys=None):
        pyro.module("recognition_net", self.recognition_net)
        with pyro.plate("data"):
            loc, scale = self.recognition_net(torch.cat([xs, ys.clamp_min(0.0)], -1))
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    def exact_log_marginal(self, xs, ys):
        """log p(y_observed | x) = log N(y_o; W_o A x + W_o a + b_o, W_o W_oᵀ + σ² I), per point."""
        with torch.no_grad():
            w = self.generation_net.linear.weight
            b = self.generation_net.linear.bias
            sigma2 = self.generation_net.log_sigma.exp() ** 2
            out = []
            for x, y in zip(xs, ys, strict=True):
                o = y != -1
                mean = w[o] @ self.prior_net(x) + b[o]
                cov = w[o] @ w[o].T + sigma2 * torch.eye(int(o.sum()))
                out.append(gaussian_log_density(y[o][None], mean, cov)[0])
            return torch.stack(out)


class IndexingConditionalVAE(ConditionalVAE):
    """The conditional VAE with its observed targets picked by boolean indexing and a
    ``view(batch, -1)`` (as Pyro's example does): it cannot broadcast over a particle dim."""

    def model(self, xs, ys=None):
        pyro.module("generation_net", self.generation_net)
        pyro.module("prior_net", self.prior_net)
        batch = xs.shape[0]
        with pyro.plate("data"):
            z = pyro.sample("z", dist.Normal(self.prior_net(xs), 1.0).to_event(1))
            loc, sigma = self.generation_net(z)
            keep = (ys != -1).view(batch, -1)
            picked = loc.view(batch, -1)[keep].view(batch, -1)
            pyro.sample("y", dist.Normal(picked, sigma).to_event(1), obs=ys[keep].view(batch, -1))


class SequentialVAE(nn.Module):
    """The deep Markov model's shape (small): one latent per time step inside a plate named
    "z_minibatch", ``pyro.markov`` over time, z_t = A z_{t-1} + s ε_t, x_t = C z_t + b + σ ε'_t."""

    def __init__(self, steps=3, x_dim=2, z_dim=2, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.trans = nn.Linear(z_dim, z_dim, bias=False)
        self.emitter = LinearDecoder(z_dim, x_dim)
        self.combiner = Encoder(z_dim + x_dim, z_dim)
        self.steps, self.z_dim, self.trans_scale = steps, z_dim, 0.8

    def model(self, seqs):
        pyro.module("dmm", self)
        batch = seqs.shape[0]
        with pyro.plate("z_minibatch", batch):
            z_prev = seqs.new_zeros(batch, self.z_dim)
            for t in pyro.markov(range(self.steps)):
                z_loc = self.trans(z_prev)
                z = pyro.sample(f"z_{t + 1}", dist.Normal(z_loc, self.trans_scale).to_event(1))
                loc, sigma = self.emitter(z)
                pyro.sample(f"obs_x_{t + 1}", dist.Normal(loc, sigma).to_event(1), obs=seqs[:, t])
                z_prev = z

    def guide(self, seqs):
        pyro.module("dmm", self)
        batch = seqs.shape[0]
        with pyro.plate("z_minibatch", batch):
            z_prev = seqs.new_zeros(batch, self.z_dim)
            for t in pyro.markov(range(self.steps)):
                inputs = torch.cat([z_prev, seqs[:, t].expand(z_prev.shape[:-1] + (-1,))], -1)
                loc, scale = self.combiner(inputs)
                z_prev = pyro.sample(f"z_{t + 1}", dist.Normal(loc, scale).to_event(1))

    def exact_log_marginal(self, seqs):
        """The state-space model is jointly Gaussian: x = G ε + b with ε ~ N(0, I)."""
        with torch.no_grad():
            a, c = self.trans.weight, self.emitter.linear.weight
            k, d, t_max = self.z_dim, c.shape[0], self.steps
            m = torch.zeros(t_max * k, t_max * k)  # z = M ε_z
            for t in range(t_max):
                for s in range(t + 1):
                    block = torch.linalg.matrix_power(a, t - s) * self.trans_scale
                    m[t * k : (t + 1) * k, s * k : (s + 1) * k] = block
            cbig = torch.block_diag(*[c] * t_max)
            sigma2 = self.emitter.log_sigma.exp() ** 2
            cov = cbig @ m @ m.T @ cbig.T + sigma2 * torch.eye(t_max * d)
            mean = self.emitter.linear.bias.repeat(t_max)
            return gaussian_log_density(seqs.reshape(len(seqs), -1), mean, cov)
