"""AIS against importance sampling at an equal number of model evaluations (issue 12).

On the small trained MLP VAE of ``_common.py`` (784-200-10, ELBO), for ``--points`` test images:

* IS with the guide as proposal and K = C·T·(L + 1) samples, the number of model evaluations of
  AIS with C chains, T steps and L leapfrog steps (AIS's also backpropagate, so per evaluation
  it costs about 3× more: the wall times are reported beside);
* for each, ``--repeats`` runs with different seeds: the spread (standard deviation) of log p̂
  per point across runs, and the mean bias against a long AIS reference run;
* AIS throughput: data points per second at 1000 steps and 16 chains.

    python benchmarks/ais.py --data ../shared/data --out benchmarks/results/ais.json
"""

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _common import parser, setup, write_json

from pyrovae.posterior import ais, importance


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None):
    p = parser(__doc__, "benchmarks/results/ais.json")
    p.add_argument("--points", type=int, default=20)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--chains", type=int, default=8)
    p.add_argument("--leapfrog", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--reference-steps", type=int, default=2000)
    p.add_argument("--throughput-points", type=int, default=100)
    args = p.parse_args(argv)
    vae, test, device = setup(args, z_dim=10)
    x = test[: args.points]
    k = args.chains * args.steps * (args.leapfrog + 1)

    def run_ais(seed, steps=args.steps, chains=args.chains, points=x):
        return ais(
            vae.model,
            points,
            vae.guide,
            num_steps=steps,
            num_chains=chains,
            leapfrog_steps=args.leapfrog,
            seed=seed,
        )

    reference, ref_seconds = _timed(lambda: run_ais(1000, args.reference_steps, 16))
    runs = {"ais": [], "is": []}
    seconds = {"ais": 0.0, "is": 0.0}
    khat = []
    for r in range(args.repeats):
        res, t = _timed(lambda r=r: run_ais(r))
        runs["ais"].append(res.log_marginal)
        seconds["ais"] += t
        res, t = _timed(lambda r=r: importance(vae.model, vae.guide, x, num_samples=k, seed=r))
        runs["is"].append(res.log_marginal)
        khat.append(res.khat.max().item())
        seconds["is"] += t
    out = {
        "model": "MLP 784-200-10, Bernoulli, ELBO (benchmarks/_common.py)",
        "points": args.points,
        "ais": {"steps": args.steps, "chains": args.chains, "leapfrog": args.leapfrog},
        "is_samples": k,
        "reference": {
            "steps": args.reference_steps,
            "chains": 16,
            "log_marginal": reference.log_marginal.mean().item(),
            "seconds": ref_seconds,
        },
        "khat_max_is": max(khat),
        "device": str(device),
        "threads": args.threads,
    }
    for name, values in runs.items():
        stacked = torch.stack(values)  # (repeats, points)
        out[name + "_result"] = {
            "log_marginal": stacked.mean().item(),
            "spread_across_runs": stacked.std(0).mean().item(),
            "bias_vs_reference": (stacked.mean(0) - reference.log_marginal).mean().item(),
            "seconds_per_run": seconds[name] / args.repeats,
        }
    batch = test[: args.throughput_points]
    res, t = _timed(lambda: run_ais(0, 1000, 16, batch))
    out["throughput"] = {
        "points": args.throughput_points,
        "steps": 1000,
        "chains": 16,
        "seconds": t,
        "points_per_second": args.throughput_points / t,
        "acceptance": res.acceptance.mean().item(),
    }
    write_json(args.out, out)


if __name__ == "__main__":
    main()
