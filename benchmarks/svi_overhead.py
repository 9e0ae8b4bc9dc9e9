"""Overhead of a pyrovae training step against a hand-written PyTorch step.

Both sides use identical networks (same initial weights), the same loss -- InfoVAE with MMD,
alpha = 0, lambda = 10: N/B sum_b [-log p(x_b|z_b) + log q(z_b|x_b) - log p(z_b)] + N (lambda - 1)
MMD^2(z, z_prior), single-sample, RBF kernel exp(-|z - z'|^2 / 2d), U-statistic -- and Adam.
The pyrovae side is exactly what ``pyrovae.infer.train`` runs per step (``SVIStepper.step``: loss
and gradients under a Pyro param capture, NaN guard, Adam). Steps alternate in blocks, and the
ratio of median per-step times is reported, for the issue's model (MLP 784-400-20, Bernoulli,
batch 128, binarized MNIST) and a small one (20-16-2) where Pyro's fixed per-step cost dominates.

    python benchmarks/svi_overhead.py --data ../shared/data --out benchmarks/results/svi_overhead.json
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import pyro
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pyrovae.data import load_binarized_mnist  # noqa: E402
from pyrovae.infer import InfoVAE, SVIStepper  # noqa: E402
from pyrovae.models import VAE, Bernoulli  # noqa: E402
from pyrovae.models.contract import data_already_validated  # noqa: E402
from pyrovae.nets import MLP  # noqa: E402
from pyrovae.ops import mmd2, rbf_kernel  # noqa: E402

LAM = 10.0
LOG_2PI = math.log(2 * math.pi)


def make_vae(d, hidden, z, seed):
    torch.manual_seed(seed)
    return VAE(MLP(d, [hidden], 2 * z), MLP(z, [hidden], d), Bernoulli(), z, (d,))


def torch_step_fn(vae, n_total, lr):
    """A plain PyTorch training step with the same networks and loss (no Pyro at all)."""
    enc, dec, head, zdim = vae.encoder, vae.decoder, vae.head, vae.z_dim
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=lr)

    def step(x):
        b = x.shape[0]
        loc, scale = head(enc(x))
        eps = torch.randn_like(loc)
        z = loc + scale * eps
        logits = dec(z)
        ll = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)  # (B,)
        log_q = (-0.5 * eps ** 2 - scale.log() - 0.5 * LOG_2PI).sum(-1)
        log_p = (-0.5 * z ** 2 - 0.5 * LOG_2PI).sum(-1)
        loss = (n_total / b) * (-ll + log_q - log_p).sum()
        prior = torch.randn_like(z)
        loss = loss + n_total * (LAM - 1.0) * mmd2(z, prior, rbf_kernel)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def bench(data, d, hidden, z, batch, steps, blocks, lr=1e-3, validate=True):
    pyro.enable_validation(validate)
    n = data.shape[0]
    vae_pyro, vae_torch = make_vae(d, hidden, z, 0), make_vae(d, hidden, z, 0)
    pyro.clear_param_store()
    stepper, objective = SVIStepper(lr=lr), InfoVAE(0.0, LAM, max_plate_nesting=1)
    torch_step = torch_step_fn(vae_torch, n, lr)
    gen = torch.Generator().manual_seed(0)
    batches = [data[torch.randint(0, n, (batch,), generator=gen)] for _ in range(32)]

    def run_pyro(k):  # as inside train(): the data set was validated once up front
        with data_already_validated():
            stepper.step(objective, vae_pyro.model, vae_pyro.guide, batches[k % 32], n)

    def run_torch(k):
        torch_step(batches[k % 32])

    for k in range(20):  # warm-up
        run_pyro(k)
        run_torch(k)
    times = {"pyrovae": [], "torch": []}
    for blk in range(blocks):
        order = (("pyrovae", run_pyro), ("torch", run_torch))
        for name, fn in order if blk % 2 == 0 else order[::-1]:
            for k in range(steps):
                t0 = time.perf_counter()
                fn(k)
                times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"model": f"{d}-{hidden}-{z}", "batch": batch, "pyro_validation": validate,
            "median_ms": {k: 1e3 * v for k, v in med.items()},
            "ratio_pyrovae_over_torch": med["pyrovae"] / med["torch"], "steps_timed": len(times["torch"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("PYROVAE_DATA", "../shared/data"))
    parser.add_argument("--out", default="benchmarks/results/svi_overhead.json")
    parser.add_argument("--steps", type=int, default=50, help="steps per block")
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    mnist = load_binarized_mnist(args.data, "train")
    runs = []
    for validate in (True, False):
        runs.append(bench(mnist, 784, 400, 20, 128, args.steps, args.blocks, validate=validate))
        runs.append(bench(mnist[:, 392:412].contiguous(), 20, 16, 2, 128, args.steps, args.blocks,
                          validate=validate))
    out = {"benchmark": "svi_overhead", "torch": torch.__version__, "pyro": pyro.__version__,
           "device": "cpu", "threads": args.threads, "machine": platform.machine(), "runs": runs}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    for r in runs:
        print(f"{r['model']:>12} validation={r['pyro_validation']!s:5} pyrovae {r['median_ms']['pyrovae']:.2f} ms"
              f"  torch {r['median_ms']['torch']:.2f} ms  ratio {r['ratio_pyrovae_over_torch']:.3f}")


if __name__ == "__main__":
    main()
