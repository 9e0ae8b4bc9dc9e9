"""What one training step of each InfoVAE objective does, per step, beside the ELBO's on the
same networks: the operator calls (``torch.profiler``), and the Python-level calls that read a
tensor on the host or move it (``.item()``, ``.tolist()``, ``.cpu()``, ``float(t)``,
``bool(t)``, ``.to(...)``, counted by a ``TorchFunctionMode`` with their call sites). On CUDA
each host read waits for the GPU to finish its queue; under CUDA MPS, with several processes
sharing a GPU, it waits behind the other processes' kernels too.

The code path does not depend on the device, so these counts, taken on a CPU, are the ones a
CUDA run makes: they show before a GPU is lent whether an objective's step synchronizes more
often than the ELBO's or moves modules every step. Counted with Pyro's validation off (as the
timing benchmarks run) and on (Pyro's default: ``with_validation``).

    python benchmarks/objective_step_ops.py --data ../shared/data --threads 1

Writes ``benchmarks/results/objective_step_ops.json``.
"""

import collections
import traceback

import pyro
import torch
from _common import Callback, command_line, parser, train_infovae_network, write_json
from torch.overrides import TorchFunctionMode

from pyrovae.data import load_binarized_mnist
from pyrovae.experiments.infovae_setup import infovae_objectives

HOST_READS = {"item", "tolist", "cpu", "numpy", "__float__", "__bool__", "__int__", "__index__"}
MOVES = {"to", "cuda", "double", "float", "half"}


class CallSites(TorchFunctionMode):
    """Counts host reads and moves by call site (the innermost frame outside torch)."""

    def __init__(self):
        super().__init__()
        self.reads, self.moves = collections.Counter(), collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in HOST_READS or name in MOVES:
            frames = [f for f in traceback.extract_stack()[:-1] if "/torch/" not in f.filename]
            site = f"{frames[-1].filename.rsplit('/pyrovae/', 1)[-1]}:{frames[-1].lineno} {name}"
            (self.reads if name in HOST_READS else self.moves)[site] += 1
        return func(*args, **(kwargs or {}))


class ProbeSteps(Callback):
    """Profiles and counts call sites over the ``steps`` steps after the first ``skip``."""

    def __init__(self, skip, steps):
        self.skip, self.last = skip, skip + steps
        self.profiler, self.sites = None, CallSites()

    def on_step_end(self, step, record):
        if step == self.skip:
            activities = [torch.profiler.ProfilerActivity.CPU]
            self.profiler = torch.profiler.profile(activities=activities)
            self.profiler.__enter__()
            self.sites.__enter__()
        elif step == self.last:
            self.sites.__exit__(None, None, None)
            self.profiler.__exit__(None, None, None)


def counts(network, objective, x, args):
    probe = ProbeSteps(args.warmup, args.steps)
    steps = args.warmup + args.steps + 1
    train_infovae_network(network, objective, x, args, steps, seed=0, callback=probe)
    operators = sum(1 for e in probe.profiler.events() if e.name.startswith("aten::"))

    def per_step(counter):
        return {site: n / args.steps for site, n in sorted(counter.items())}

    return {
        "operator_calls": operators / args.steps,
        "host_reads": sum(probe.sites.reads.values()) / args.steps,
        "moves": sum(probe.sites.moves.values()) / args.steps,
        "host_read_sites": per_step(probe.sites.reads),
        "move_sites": per_step(probe.sites.moves),
    }


def main():
    p = parser(__doc__, "benchmarks/results/objective_step_ops.json")
    p.add_argument("--networks", default="conv,pixelcnn")
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    pyro.enable_validation(False)  # as the timing benchmarks run; counted with it on too
    x = load_binarized_mnist(args.data, "train")[:2000]
    results = {}
    for network in args.networks.split(","):
        rows = {
            label: counts(network, objective, x, args)
            for label, objective in infovae_objectives(alpha=1.0, lam=1000.0)
        }
        # Pyro's default: validation on (support checks and NaN warnings read the device)
        torch.distributions.Distribution.set_default_validate_args(True)
        with pyro.validation_enabled(True):
            for label, objective in infovae_objectives(alpha=1.0, lam=1000.0):
                on = counts(network, objective, x, args)
                rows[label]["with_validation"] = {
                    k: on[k] for k in ("operator_calls", "host_reads", "host_read_sites")
                }
        torch.distributions.Distribution.set_default_validate_args(False)
        for label, row in rows.items():
            row["operator_calls_ratio_to_elbo"] = round(
                row["operator_calls"] / rows["ELBO"]["operator_calls"], 3
            )
            print(
                f"{network} {label:<20} {row['operator_calls']:7.1f} operators, "
                f"{row['host_reads']:.1f} host reads, {row['moves']:.1f} moves per step; "
                f"with validation {row['with_validation']['host_reads']:.1f} host reads"
            )
        results[network] = rows
    write_json(
        args.out,
        {
            "command": command_line(args),
            "device": args.device,
            "torch": torch.__version__,
            "pyro": pyro.__version__,
            "setting": "dim z = 5, alpha = 1, lambda = 1000, batch 100 of binarized MNIST",
            "per_step": results,
        },
    )


if __name__ == "__main__":
    main()
