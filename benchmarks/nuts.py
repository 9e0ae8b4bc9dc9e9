"""True posteriors of many data points: one vectorized NUTS run against one run per point.

Model: a small VAE (784-200-2, Bernoulli, ELBO 1500 steps on binarized MNIST), decoder fixed.
``pyrovae.posterior.nuts`` samples the (B, 2) block of B test points in one sampler; the
baseline calls the same function on one point at a time. Same chains, warm-up and draws per
point on both sides; R-hat and bulk ESS of both are reported, with the points whose R-hat
exceeds 1.05 (a 2-D latent space under a neural decoder can have several posterior modes, which
no NUTS chain crosses: such points show up in both runs).

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
from pyrovae.posterior._arviz import arviz

from pyrovae.posterior import nuts, nuts_summary


def main(argv=None):
    p = parser(__doc__, "benchmarks/results/nuts.json")
    p.add_argument("--points", type=int, default=100)
    p.add_argument(
        "--separate-points",
        type=int,
        default=None,
        help="points run one by one (default: all); the rate is extrapolated if fewer",
    )
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--chains", type=int, default=2)
    args = p.parse_args(argv)
    vae, test, device = setup(args, z_dim=2)
    x = test[: args.points]
    kw = dict(
        num_samples=args.samples, warmup_steps=args.warmup, num_chains=args.chains, guide=vae.guide
    )

    t0 = time.perf_counter()
    joint = nuts(vae.model, x, **kw)
    t_joint = time.perf_counter() - t0
    joint_summary = nuts_summary(joint)
    rhat_points = arviz.rhat(joint, var_names=["z"])["z"].values.max(-1)  # (B,)
    joint_summary["points_rhat_above_1.05"] = int((rhat_points > 1.05).sum())

    n_sep = args.separate_points or args.points
    t0 = time.perf_counter()
    sep = [nuts_summary(nuts(vae.model, x[b : b + 1], seed=b, **kw)) for b in range(n_sep)]
    sep_bad = [b for b, s in enumerate(sep) if s["rhat_max"] > 1.05]
    t_sep = (time.perf_counter() - t0) * args.points / n_sep
    result = {
        "benchmark": "nuts",
        "device": str(device),
        "threads": args.threads,
        "torch": torch.__version__,
        "pyro": pyro.__version__,
        "model": "784-200-2 Bernoulli, ELBO 1500 steps",
        "points": args.points,
        "chains": args.chains,
        "warmup": args.warmup,
        "samples": args.samples,
        "vectorized_seconds": t_joint,
        "separate_seconds": t_sep,
        "separate_points_measured": n_sep,
        "speedup": t_sep / t_joint,
        "vectorized": joint_summary,
        "separate": {
            "rhat_max": max(s["rhat_max"] for s in sep),
            "ess_bulk_min": min(s["ess_bulk_min"] for s in sep),
            "ess_bulk_median": float(np.median([s["ess_bulk_min"] for s in sep])),
            "divergences": sum(s["divergences"] for s in sep),
            "points_rhat_above_1.05": len(sep_bad),
            "points_with_bad_rhat": sep_bad,
        },
        "vectorized_points_with_bad_rhat": [int(b) for b in np.nonzero(rhat_points > 1.05)[0]],
    }
    write_json(args.out, result)


if __name__ == "__main__":
    main()
