"""Overhead of a pyrovae training step against a hand-written PyTorch step.

Both sides use identical networks (same initial weights), the same loss -- InfoVAE with MMD,
alpha = 0, lambda = 10: N/B sum_b [-log p(x_b|z_b) + log q(z_b|x_b) - log p(z_b)] + N (lambda - 1)
MMD^2(z, z_prior), single-sample, RBF kernel exp(-|z - z'|^2 / 2d), U-statistic -- and Adam.
The pyrovae side is exactly what ``pyrovae.infer.train`` runs per step (``SVIStepper.step``: loss
and gradients under a Pyro param capture, NaN guard, Adam). Contestants alternate step by step
(shuffled order in every round), and the ratio of median per-step times is reported (also for the
plain ELBO, with Pyro's own ``SVI(Trace_ELBO)`` as a second contestant), for the issue's model (MLP
784-400-20, Bernoulli, batch 128, binarized MNIST) and a small one (20-16-2) where Pyro's fixed
per-step cost dominates.

    python benchmarks/svi_overhead.py --data ../shared/data \
        --out benchmarks/results/svi_overhead.json
"""

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time

import pyro
import pyro.distributions as dist
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam as PyroAdam

from pyrovae.data import load_binarized_mnist
from pyrovae.infer import EvidenceLowerBound, InfoVAE, SVIStepper
from pyrovae.models import VAE, Bernoulli
from pyrovae.models.contract import data_already_validated, data_plate
from pyrovae.nets import MLP
from pyrovae.ops import mmd2, rbf_kernel
from pyrovae.traces import adapt

LAM = 10.0
LOG_2PI = math.log(2 * math.pi)


def make_vae(d, hidden, z, seed):
    torch.manual_seed(seed)
    return VAE(MLP(d, [hidden], 2 * z), MLP(z, [hidden], d), Bernoulli(), z, (d,))


def torch_step_fn(vae, n_total, lr, lam=LAM, fused=None):
    """A plain PyTorch training step with the same networks and loss (no Pyro at all);
    ``lam = 1`` drops the MMD term, leaving the ELBO. ``fused=True``: the fused Adam that
    ``pyrovae.infer.train`` uses (default: torch's own choice, the per-tensor loop on the CPU)."""
    enc, dec, head = vae.encoder, vae.decoder, vae.head
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=lr, fused=fused)

    def step(x):
        b = x.shape[0]
        loc, scale = head(enc(x))
        eps = torch.randn_like(loc)
        z = loc + scale * eps
        logits = dec(z)
        ll = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)  # (B,)
        log_q = (-0.5 * eps**2 - scale.log() - 0.5 * LOG_2PI).sum(-1)
        log_p = (-0.5 * z**2 - 0.5 * LOG_2PI).sum(-1)
        loss = (n_total / b) * (-ll + log_q - log_p).sum()
        if lam != 1.0:
            loss = loss + n_total * (lam - 1.0) * mmd2(z, torch.randn_like(z), rbf_kernel)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def pyro_model_guide(vae, prefix):
    """A hand-written Pyro model and guide on the VAE's networks, for ``SVI``. The networks are
    registered under their own names: two VAEs in one param store would otherwise share
    parameters by name (``pyro.module`` would hand this one the other's tensors, which SVI would
    then step while the forward pass used, and never trained, its own)."""

    def model(x, num_data=None):
        pyro.module(f"{prefix}_decoder", vae.decoder)
        with data_plate(x, num_data):
            prior = dist.Normal(x.new_zeros(x.shape[0], vae.z_dim), 1.0).to_event(1)
            z = pyro.sample("z", prior)
            pyro.sample("x", dist.Bernoulli(logits=vae.decoder(z)).to_event(1), obs=x)

    def guide(x, num_data=None):
        pyro.module(f"{prefix}_encoder", vae.encoder)
        with data_plate(x, num_data):
            loc, scale = vae.head(vae.encoder(x))
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    return model, guide


def bench(data, d, hidden, z, batch, rounds, lr=1e-3, validate=True, objective="infovae"):
    """Median step time of each contestant over ``rounds`` rounds of one step each.

    ``objective="infovae"``: pyrovae InfoVAE-MMD against the torch step with MMD.
    ``objective="elbo"``: pyrovae ELBO and Pyro's own ``SVI(Trace_ELBO, pyro.optim.Adam)`` against
    the torch ELBO step. The torch step runs twice: with torch's default Adam (what one writes
    by hand) and with the fused Adam that pyrovae uses, so the second ratio is the framework's
    cost alone. Every contestant's parameters are checked to have moved (it really trained).
    """
    pyro.enable_validation(validate)
    n = data.shape[0]
    lam = LAM if objective == "infovae" else 1.0
    gen = torch.Generator().manual_seed(0)
    batches = [data[torch.randint(0, n, (batch,), generator=gen)] for _ in range(32)]
    pyro.clear_param_store()
    vae_ours, vae_torch = make_vae(d, hidden, z, 0), make_vae(d, hidden, z, 0)
    vae_fused = make_vae(d, hidden, z, 0)
    stepper = SVIStepper(lr=lr)
    ours = (
        InfoVAE(0.0, lam, max_plate_nesting=1)
        if objective == "infovae"
        else EvidenceLowerBound(max_plate_nesting=1)
    )
    torch_step = torch_step_fn(vae_torch, n, lr, lam)
    fused_step = torch_step_fn(vae_fused, n, lr, lam, fused=True)

    # as inside train(): model and guide adapted once, the data set validated once up front
    model_ours, guide_ours = adapt(vae_ours.model), adapt(vae_ours.guide)

    def run_ours(k):
        with data_already_validated():
            stepper.step(ours, model_ours, guide_ours, batches[k % 32], n)

    contestants = {
        "pyrovae": run_ours,
        "torch": lambda k: torch_step(batches[k % 32]),
        "torch_fused_adam": lambda k: fused_step(batches[k % 32]),
    }
    vaes = {"pyrovae": vae_ours, "torch": vae_torch, "torch_fused_adam": vae_fused}
    if objective == "elbo":
        vae_svi = make_vae(d, hidden, z, 0)
        model, guide = pyro_model_guide(vae_svi, "svi")
        svi = SVI(model, guide, PyroAdam({"lr": lr}), Trace_ELBO(max_plate_nesting=1))
        contestants["pyro_svi_trace_elbo"] = lambda k: svi.step(batches[k % 32], num_data=n)
        vaes["pyro_svi_trace_elbo"] = vae_svi
    initial = {name: [p.detach().clone() for p in v.parameters()] for name, v in vaes.items()}

    for k in range(20):  # warm-up
        for fn in contestants.values():
            fn(k)
    times = {name: [] for name in contestants}
    names = list(contestants)
    order = random.Random(0)
    for k in range(rounds):  # every round times one step of each contestant, in shuffled order
        order.shuffle(names)
        for name in names:
            t0 = time.perf_counter()
            contestants[name](k)
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    trained = {
        name: any(
            not torch.equal(a, b.detach())
            for a, b in zip(initial[name], vaes[name].parameters(), strict=True)
        )
        for name in vaes
    }
    if not all(trained.values()):
        raise RuntimeError(f"a contestant did not update its parameters: {trained}")
    return {
        "model": f"{d}-{hidden}-{z}",
        "objective": objective,
        "batch": batch,
        "pyro_validation": validate,
        "median_ms": {k: 1e3 * v for k, v in med.items()},
        "ratio_over_torch": {k: med[k] / med["torch"] for k in med if k != "torch"},
        "ratio_over_torch_fused_adam": {
            k: med[k] / med["torch_fused_adam"] for k in med if k != "torch_fused_adam"
        },
        "pyrovae_adam": "fused" if stepper.optimizer.defaults.get("fused") else "default",
        "parameters_updated": trained,
        "steps_timed": len(times["torch"]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=os.environ.get("PYROVAE_DATA", "../shared/data"))
    parser.add_argument("--out", default="benchmarks/results/svi_overhead.json")
    parser.add_argument("--rounds", type=int, default=400, help="timed steps per contestant")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    mnist = load_binarized_mnist(args.data, "train")
    small = mnist[:, 392:412].contiguous()  # 20 pixels from the middle of the image
    runs = []
    for objective in ("infovae", "elbo"):
        for validate in (True, False):
            for data, d, h, z in ((mnist, 784, 400, 20), (small, 20, 16, 2)):
                runs.append(
                    bench(data, d, h, z, 128, args.rounds, validate=validate, objective=objective)
                )
    out = {
        "benchmark": "svi_overhead",
        "torch": torch.__version__,
        "pyro": pyro.__version__,
        "device": "cpu",
        "threads": args.threads,
        "machine": platform.machine(),
        "runs": runs,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    for r in runs:
        times = "  ".join(f"{k} {v:.2f} ms" for k, v in r["median_ms"].items())
        ratios = "  ".join(f"{k}/torch {v:.3f}" for k, v in r["ratio_over_torch"].items())
        ratios += "  pyrovae/torch_fused_adam {:.3f}".format(
            r["ratio_over_torch_fused_adam"]["pyrovae"]
        )
        print(
            f"{r['objective']:>8} {r['model']:>10} validation={r['pyro_validation']!s:5} "
            f"{times}  {ratios}"
        )


if __name__ == "__main__":
    main()
