"""True posteriors of many data points: one vectorized run against one NUTS run per point.

Model: a small VAE (784-200-2, Bernoulli, ELBO 1500 steps on binarized MNIST), decoder fixed.
The vectorized contestant samples the (B, 2) block of B test points in one tensor program:
``posterior.hmc`` (default: per-point step sizes and whitening maps) or ``--sampler nuts``
(one NUTS sampler, guide-preconditioned unless ``--no-precondition``). The baseline is Pyro's
NUTS on one point at a time (``precondition=False``, started from a guide draw). Same chains,
warm-up and draws per point on both sides. Reported: wall time; the minimum bulk ESS per
second per point (speed at equal quality; the vectorized run's seconds are shared by its B
points); the R-hat distribution; divergences; the points whose R-hat exceeds 1.01 (a 2-D latent
space under a neural decoder can have several posterior modes, which no NUTS chain crosses).

    python benchmarks/nuts.py --data ../shared/data --out benchmarks/results/nuts.json
"""

import os
import sys
import time

import numpy as np
import pyro
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _common import parser, setup, write_json

from pyrovae.posterior import grid, hmc, nuts, posterior_comparison


def grid_modes(model, points, threshold=0.01):
    """An independent multimodality check for 2-D latents: the local maxima of each point's grid
    posterior (201² cells on [-5, 5]²) whose density is at least ``threshold`` of its highest."""
    if len(points) == 0:
        return []
    g = grid(model, points, bounds=(-5.0, 5.0), resolution=201)
    dens = g.weights.T.reshape(len(points), 1, *g.shape)
    peak = dens == torch.nn.functional.max_pool2d(dens, 3, stride=1, padding=1)
    peak &= dens >= threshold * dens.amax((-1, -2), keepdim=True)
    return peak.sum((-1, -2, -3)).tolist()


def main(argv=None):
    p = parser(__doc__, "benchmarks/results/nuts.json")
    p.add_argument("--points", type=int, default=100)
    p.add_argument(
        "--separate-points",
        type=int,
        default=None,
        help="points run one by one (default: all; 0 skips the baseline and reports only the "
        "vectorized run's quality); the rate is extrapolated if fewer",
    )
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument(
        "--sampler",
        choices=["hmc", "nuts"],
        default="hmc",
        help="the vectorized contestant: posterior.hmc (per-point adaptation) or posterior.nuts",
    )
    p.add_argument("--no-precondition", action="store_true", help="posterior.nuts only")
    args = p.parse_args(argv)
    vae, test, device = setup(args, z_dim=2)
    x = test[: args.points]
    kw = dict(
        num_samples=args.samples, warmup_steps=args.warmup, num_chains=args.chains, guide=vae.guide
    )

    t0 = time.perf_counter()
    if args.sampler == "hmc":
        joint = hmc(vae.model, x, **kw)
    else:
        joint = nuts(vae.model, x, precondition=not args.no_precondition, **kw)
    t_joint = time.perf_counter() - t0
    joint_table = posterior_comparison(joint)

    n_sep = args.points if args.separate_points is None else args.separate_points
    tables, t_sep_measured = [], 0.0
    for b in range(n_sep):
        t0 = time.perf_counter()
        run = nuts(vae.model, x[b : b + 1], seed=b, precondition=False, **kw)
        seconds = time.perf_counter() - t0
        t_sep_measured += seconds
        table = posterior_comparison(run)
        table["seconds"] = seconds
        table["divergences"] = int(run.sample_stats["diverging"].values.sum())
        tables.append(table)
    rhat = joint_table["rhat"].to_numpy()
    flagged = [int(b) for b in np.nonzero(rhat > 1.01)[0]]
    with torch.no_grad():
        modes = np.array(grid_modes(vae.model, x))
        modes_faint = np.array(grid_modes(vae.model, x, threshold=0.001))
    # the independent check, on every point: a posterior whose grid has a second mode holding at
    # least 0.1% of the peak density can trap chains apart, which R-hat may or may not see
    unimodal = modes_faint < 2
    result = {
        "benchmark": "nuts",
        "device": str(device),
        "threads": args.threads,
        "torch": torch.__version__,
        "pyro": pyro.__version__,
        "model": "784-200-2 Bernoulli, ELBO 1500 steps",
        "sampler": args.sampler,
        "precondition": args.sampler == "hmc" or not args.no_precondition,
        "points": args.points,
        "chains": args.chains,
        "warmup": args.warmup,
        "samples": args.samples,
        "vectorized_seconds": t_joint,
        "rhat_ok_points": int((rhat <= 1.01).sum()),
        "flagged_points_grid_modes": {str(b): int(modes[b]) for b in flagged},
        "flagged_points_multimodal": int(sum(modes_faint[b] >= 2 for b in flagged)),
        "multimodal_points_grid": {
            "1%": [int(b) for b in np.nonzero(modes >= 2)[0]],
            "0.1%": [int(b) for b in np.nonzero(modes_faint >= 2)[0]],
        },
        "unimodal_points": int(unimodal.sum()),
        "rhat_ok_unimodal_points": int((rhat[unimodal] <= 1.01).sum()),
        "vectorized": {
            "rhat_quantiles": np.quantile(rhat, [0.5, 0.9, 0.99, 1.0]).tolist(),
            "ess_bulk_min": float(joint_table["ess_bulk"].min()),
            "divergences": int(joint.sample_stats["diverging"].values.sum()),
            "points_with_rhat_above_1.01": flagged,
            "rhat_of_flagged": [float(rhat[b]) for b in flagged],
        },
    }
    if n_sep:
        t_sep = t_sep_measured * args.points / n_sep
        sep_rhat = np.array([t["rhat"].iloc[0] for t in tables])
        sep_ess = np.array([t["ess_bulk"].iloc[0] for t in tables])
        sep_ess_per_s = sep_ess / np.array([t["seconds"].iloc[0] for t in tables])
        # the vectorized run's wall time is shared by its points: per point it costs t_joint / B
        joint_ess_per_s = joint_table["ess_bulk"].to_numpy() / (t_joint / args.points)
        result.update(
            separate_seconds=t_sep,
            separate_points_measured=n_sep,
            speedup_wall=t_sep / t_joint,
            speedup_ess_per_s=float(np.median(joint_ess_per_s) / np.median(sep_ess_per_s)),
            min_ess_per_s={
                "vectorized_median": float(np.median(joint_ess_per_s)),
                "separate_median": float(np.median(sep_ess_per_s)),
            },
            separate={
                "rhat_quantiles": np.quantile(sep_rhat, [0.5, 0.9, 0.99, 1.0]).tolist(),
                "rhat_ok_points": int((sep_rhat <= 1.01).sum()),
                "ess_bulk_min": float(sep_ess.min()),
                "divergences": int(sum(t["divergences"].iloc[0] for t in tables)),
                "points_with_rhat_above_1.01": [int(b) for b in np.nonzero(sep_rhat > 1.01)[0]],
            },
        )
    write_json(args.out, result)


if __name__ == "__main__":
    main()
