"""Vectorized importance sampling against a per-point loop over ``pyro.infer.Importance``.

log p(x) of binarized-MNIST test points under a small trained VAE (784-200-10), the guide as
proposal. pyrovae's ``importance`` runs all points and particles in batched passes; the baseline
runs ``pyro.infer.Importance(model, guide, K).run(x_b)`` for one point at a time (Pyro runs one
model execution per sample). Both at the same K; the estimates are compared too.

    python benchmarks/importance.py --data ../shared/data --out benchmarks/results/importance.json
"""

import os
import sys
import time

import pyro
import torch
from pyro.infer import Importance

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _common import parser, setup, write_json

from pyrovae.posterior import importance


def main(argv=None):
    p = parser(__doc__, "benchmarks/results/importance.json")
    p.add_argument("--points", type=int, default=100, help="test points for the vectorized run")
    p.add_argument("--baseline-points", type=int, default=5, help="points for the per-point loop")
    p.add_argument("--k", type=int, default=1000, help="samples per point in the comparison")
    p.add_argument("--k-large", type=int, default=5000, help="K of the extra vectorized run")
    args = p.parse_args(argv)
    vae, test, device = setup(args, z_dim=10)
    x = test[: args.points]

    def timed(fn):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - t0

    importance(vae.model, vae.guide, x[:4], num_samples=50, seed=0)  # warm-up
    ours, t_ours = timed(
        lambda: importance(vae.model, vae.guide, x, num_samples=args.k, seed=0, progress=False)
    )
    large, t_large = timed(
        lambda: importance(
            vae.model, vae.guide, x, num_samples=args.k_large, seed=0, progress=False
        )
    )

    def baseline():
        values = []
        for b in range(args.baseline_points):
            imp = Importance(vae.model, vae.guide, num_samples=args.k).run(x[b : b + 1])
            values.append(imp.get_log_normalizer().item())
        return torch.tensor(values)

    with torch.no_grad():
        base, t_base = timed(baseline)
    ours_pps = args.points / t_ours
    base_pps = args.baseline_points / t_base
    diff = (base - ours.log_marginal[: args.baseline_points].cpu()).abs()
    result = {
        "benchmark": "importance",
        "device": str(device),
        "threads": args.threads,
        "torch": torch.__version__,
        "pyro": pyro.__version__,
        "model": "784-200-10 Bernoulli, ELBO 1500 steps",
        "k": args.k,
        "points": args.points,
        "baseline_points": args.baseline_points,
        "pyrovae_seconds": t_ours,
        "pyrovae_points_per_second": ours_pps,
        "baseline_seconds": t_base,
        "baseline_points_per_second": base_pps,
        "speedup": ours_pps / base_pps,
        "k_large": args.k_large,
        "pyrovae_seconds_k_large": t_large,
        "log_px_mean_k": ours.log_marginal.mean().item(),
        "log_px_mean_k_large": large.log_marginal.mean().item(),
        "stderr_mean_k_large": large.stderr.mean().item(),
        "max_abs_difference_vs_baseline": diff.max().item(),
        "max_stderr_on_those_points": ours.stderr[: args.baseline_points].max().item(),
        # both estimates are noisy with about the same standard error: compare in sqrt(2) se units
        "max_difference_in_combined_se": (
            diff / (2**0.5 * ours.stderr[: args.baseline_points].cpu())
        )
        .max()
        .item(),
    }
    write_json(args.out, result)


if __name__ == "__main__":
    main()
