"""BDMC sandwich gaps against the exact log p(x) as the AIS schedule grows (issue 12).

Data simulated from the linear-Gaussian VAE of the AIS tests (d = 7, k = 2, float64, the
``linear_oracle`` of tests/helpers.py), whose log p(x) is known in closed form. For each number of
steps: forward AIS from the prior (a stochastic lower bound), reverse AIS from the exact latent
each x was drawn with (a stochastic upper bound), the mean gap upper − lower, and the mean error
of each bound against the exact value.

    python benchmarks/bdmc_gaps.py --steps 100 1000 5000 --out benchmarks/results/bdmc_gaps.json
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from helpers import linear_oracle

from pyrovae.posterior import bdmc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, nargs="+", default=[100, 1000, 5000])
    p.add_argument("--points", type=int, default=24)
    p.add_argument("--chains", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/bdmc_gaps.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    vae = linear_oracle(d=7, k=2, seed=0).double()
    rows = []
    for steps in args.steps:
        start = time.perf_counter()
        res = bdmc(vae.model, (7,), args.points, num_steps=steps, num_chains=args.chains, seed=0)
        exact = vae.log_marginal(res.x).detach()
        lower, upper = res.lower - exact, res.upper - exact
        rows.append(
            {
                "steps": steps,
                "gap_mean": res.gap.mean().item(),
                "gap_max": res.gap.max().item(),
                "lower_minus_exact_mean": lower.mean().item(),
                "upper_minus_exact_mean": upper.mean().item(),
                "lower_minus_exact_stderr": (lower.std() / len(lower) ** 0.5).item(),
                "upper_minus_exact_stderr": (upper.std() / len(upper) ** 0.5).item(),
                "seconds": time.perf_counter() - start,
            }
        )
        print(json.dumps(rows[-1]))
    out = {
        "model": "linear-Gaussian VAE d=7, k=2, float64 (tests/helpers.py linear_oracle seed 0)",
        "points": args.points,
        "chains": args.chains,
        "proposal": "prior",
        "threads": args.threads,
        "rows": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
