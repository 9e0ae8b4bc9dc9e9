"""Per-step cost of ``pyrovae.infer.train`` in this checkout against another checkout.

Each round runs ``train`` (ELBO, MLP 784-400-20, Bernoulli, batch 128, no validation, no
checkpoint, progress bar off) for ``--steps`` steps in a fresh subprocess of each checkout, in
alternating order, and reads the time per step (the first ``--warmup`` steps are not timed, via
``train``'s ``evaluate`` hook only at the boundary). The ratio of the medians over rounds is the
growth of the per-step cost from the baseline to this checkout.

    git worktree add /tmp/before <commit>
    python benchmarks/train_step_cost.py --data ../shared/data --baseline /tmp/before \\
        --out benchmarks/results/train_step_cost.json
"""

import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import parser, write_json

HERE = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import pyro, torch
from pyrovae.data import load_binarized_mnist
from pyrovae.infer import EvidenceLowerBound, train
from pyrovae.models import build_vae
torch.set_num_threads(int(sys.argv[5]))
pyro.enable_validation(sys.argv[6] == "on")
x = load_binarized_mnist(sys.argv[2], "train")
steps, warmup = int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
vae = build_vae({"data_shape": [784], "z_dim": 20, "hidden": [400]})
marks = {}
def mark(step):
    marks[step] = time.perf_counter()
    return {}
train(vae.model, vae.guide, x, EvidenceLowerBound(), steps=steps, batch_size=128, lr=1e-3,
      progress=False, evaluate=mark, evaluate_every=warmup)
print(json.dumps((marks[steps] - marks[warmup]) / (steps - warmup)))
"""


def per_step(repo, args):
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            repo,
            args.data,
            str(args.steps),
            str(args.warmup),
            str(args.threads),
            args.validation,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = parser(__doc__, "benchmarks/results/train_step_cost.json")
    p.add_argument("--baseline", required=True, help="another checkout of pyrovae")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=1100)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--validation", choices=("on", "off"), default="on", help="Pyro validation")
    args = p.parse_args(argv)
    if args.steps % args.warmup:
        p.error("--steps must be a multiple of --warmup (the evaluate hook marks the times)")
    times = {"this": [], "baseline": []}
    for r in range(args.rounds):
        order = [("this", HERE), ("baseline", args.baseline)]
        for name, repo in order if r % 2 == 0 else order[::-1]:
            times[name].append(per_step(repo, args))
            print(f"round {r}: {name} {1000 * times[name][-1]:.3f} ms/step", flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    write_json(
        args.out,
        {
            "model": "MLP 784-400-20, Bernoulli, EvidenceLowerBound, batch 128",
            "pyro_validation": args.validation,
            "threads": args.threads,
            "steps_timed": args.steps - args.warmup,
            "ms_per_step": {k: [1000 * t for t in v] for k, v in times.items()},
            "median_ms": {k: 1000 * v for k, v in median.items()},
            "this_over_baseline": median["this"] / median["baseline"],
            "baseline": os.path.abspath(args.baseline),
        },
    )


if __name__ == "__main__":
    main()
