"""The cost of one training step of each InfoVAE objective, as a ratio to the ELBO's step on the
same networks (InfoVAE paper setting: dim z = 5, α = 1, λ = 1000; batch 100 binarized MNIST).

For each network (the conv VAE and the conditional-PixelCNN VAE of ``pyrovae.models.conv_vae``)
and each objective (ELBO, InfoVAE with MMD, Stein and adversarial divergences), a fresh model is
trained ``--warmup`` steps, then ``--steps`` more are timed (the training loop only:
``train``'s callbacks mark its start and end); the objectives run one after another, the whole
round ``--repeats`` times, and the median time per step is kept. ``ratio_to_elbo`` is that median
over the ELBO's on the same network (issue target: ≤ 1.5 for every InfoVAE variant).

    python benchmarks/objective_step_cost.py --data ../shared/data --threads 2

Writes ``benchmarks/results/objective_step_cost.json``.
"""

import statistics

import pyro
import torch
from _common import LoopTimer, command_line, parser, train_infovae_network, write_json

from pyrovae.data import load_binarized_mnist
from pyrovae.experiments.infovae_setup import infovae_objectives


def step_ms(network, objective, x, args, seed):
    timer = LoopTimer(args.warmup)
    train_infovae_network(network, objective, x, args, args.warmup + args.steps, seed, timer)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    return timer.seconds / args.steps * 1e3


def main():
    p = parser(__doc__, "benchmarks/results/objective_step_cost.json")
    p.add_argument("--networks", default="conv,pixelcnn")
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    pyro.enable_validation(False)
    x = load_binarized_mnist(args.data, "train")[:5000]
    results = {}
    for network in args.networks.split(","):
        times = {label: [] for label, _ in infovae_objectives(alpha=1.0, lam=1000.0)}
        for repeat in range(args.repeats):
            for label, objective in infovae_objectives(alpha=1.0, lam=1000.0):
                times[label].append(step_ms(network, objective, x, args, seed=repeat))
        elbo = statistics.median(times["ELBO"])
        results[network] = {
            label: {
                "ms_per_step": [round(t, 3) for t in values],
                "median_ms": round(statistics.median(values), 3),
                "ratio_to_elbo": round(statistics.median(values) / elbo, 3),
            }
            for label, values in times.items()
        }
    write_json(
        args.out,
        {
            "command": command_line(args),
            "device": args.device,
            "threads": args.threads,
            "torch": torch.__version__,
            "pyro": pyro.__version__,
            "setting": "dim z = 5, alpha = 1, lambda = 1000, batch 100 of binarized MNIST",
            "networks": results,
            "target_ratio": 1.5,
        },
    )


if __name__ == "__main__":
    main()
