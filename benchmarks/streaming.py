"""Training on data read batch by batch (pyrovae.infer.streamed): memory and throughput.

1. Memory: a memory-mapped float32 array of ``--memmap-gb`` GB (rows of 784) is written to
   ``--work``, then a 784-200-20 VAE trains on it as ``pyrovae.data.ArrayRows`` for
   ``--memory-steps`` steps of 128 (random rows over the whole file, one pass of the permutation
   at a time). The process's anonymous resident memory (``RssAnon`` in /proc/self/status: what
   the process itself holds; the file's pages are page cache, which the kernel reclaims) is
   sampled every step; its peak above the level before training is reported against
   ``--limit-gb``, beside the peak total resident size (``VmHWM``, file pages included).
2. Throughput: the same VAE (784-400-20) on binarized MNIST's 50000 training images, from the
   in-memory tensor and from ``ArrayRows`` over a memory-mapped ``.npy`` copy, ``--steps`` steps
   each, alternated ``--repeats`` times in one process; the ratio of the median times per step
   of the training loop (its set-up, which hashes the data, left out).

    python benchmarks/streaming.py --data ../shared/data --work /tmp/streaming --threads 2

Writes ``benchmarks/results/streaming.json``.
"""

import os
import statistics
import time

import numpy as np
import pyro
import torch
from _common import parser, write_json

from pyrovae.data import ArrayRows, load_binarized_mnist
from pyrovae.infer import Callback, train
from pyrovae.models import build_vae

ROW = 784


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class MemoryProbe(Callback):
    def __init__(self):
        self.peak_anon_kb = status_kb("RssAnon")

    def on_step_end(self, step, record):
        self.peak_anon_kb = max(self.peak_anon_kb, status_kb("RssAnon"))


def write_memmap(path, gigabytes, seed=0):
    rows = int(gigabytes * 2**30 // (ROW * 4))
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, ROW))
    rng = np.random.default_rng(seed)
    chunk = 65536
    for start in range(0, rows, chunk):
        stop = min(start + chunk, rows)
        array[start:stop] = rng.random((stop - start, ROW), dtype=np.float32) < 0.2
    array.flush()
    del array
    return rows


def memory_part(args):
    path = os.path.join(args.work, f"rows_{args.memmap_gb:g}gb.npy")
    start = time.perf_counter()
    rows = write_memmap(path, args.memmap_gb)
    written = time.perf_counter() - start
    data = ArrayRows(np.load(path, mmap_mode="r"))
    torch.manual_seed(0)
    vae = build_vae({"data_shape": [ROW], "z_dim": 20, "hidden": [200]})
    before_anon, before_rss = status_kb("RssAnon"), status_kb("VmRSS")
    probe = MemoryProbe()
    probe.peak_anon_kb = before_anon
    start = time.perf_counter()
    train(
        vae.model,
        vae.guide,
        data,
        steps=args.memory_steps,
        batch_size=128,
        progress=False,
        callbacks=[probe],
    )
    seconds = time.perf_counter() - start
    peak_anon_gb = (probe.peak_anon_kb - before_anon) / 2**20
    os.unlink(path)
    return {
        "file_gb": round(rows * ROW * 4 / 2**30, 3),
        "rows": rows,
        "write_seconds": round(written, 1),
        "steps": args.memory_steps,
        "train_seconds": round(seconds, 1),
        "rss_anon_before_gb": round(before_anon / 2**20, 3),
        "peak_rss_anon_above_before_gb": round(peak_anon_gb, 3),
        "vm_rss_before_gb": round(before_rss / 2**20, 3),
        "peak_vm_hwm_gb": round(status_kb("VmHWM") / 2**20, 3),
        "limit_gb": args.limit_gb,
        "within_limit": peak_anon_gb <= args.limit_gb,
    }


class LoopTimer(Callback):
    """Wall time of the training loop alone (set-up, e.g. hashing the data, left out)."""

    def on_train_begin(self, config):
        self.start = time.perf_counter()

    def on_train_end(self, result):
        self.seconds = time.perf_counter() - self.start


def step_time(data, steps, seed):
    torch.manual_seed(seed)
    vae = build_vae({"data_shape": [ROW], "z_dim": 20, "hidden": [400]})
    timer = LoopTimer()
    train(
        vae.model,
        vae.guide,
        data,
        steps=steps,
        batch_size=128,
        progress=False,
        seed=seed,
        callbacks=[timer],
    )
    return timer.seconds / steps


def throughput_part(args):
    x = load_binarized_mnist(args.data, "train")
    path = os.path.join(args.work, "mnist_train.npy")
    np.save(path, x.numpy())
    streamed = ArrayRows(np.load(path, mmap_mode="r"))
    step_time(x, 20, 0)  # warm-up of both paths
    step_time(streamed, 20, 0)
    tensor_times, streamed_times = [], []
    for repeat in range(args.repeats):
        tensor_times.append(step_time(x, args.steps, repeat))
        streamed_times.append(step_time(streamed, args.steps, repeat))
    os.unlink(path)
    tensor_ms = statistics.median(tensor_times) * 1e3
    streamed_ms = statistics.median(streamed_times) * 1e3
    return {
        "model": "784-400-20 MLP VAE, Bernoulli, ELBO, batch 128",
        "data": "binarized MNIST train (50000 x 784)",
        "steps_per_run": args.steps,
        "repeats": args.repeats,
        "tensor_ms_per_step": [round(t * 1e3, 3) for t in tensor_times],
        "streamed_ms_per_step": [round(t * 1e3, 3) for t in streamed_times],
        "median_tensor_ms": round(tensor_ms, 3),
        "median_streamed_ms": round(streamed_ms, 3),
        "ratio_streamed_to_tensor": round(streamed_ms / tensor_ms, 3),
        "target_ratio": 1.10,
    }


def main():
    p = parser(__doc__, "benchmarks/results/streaming.json")
    p.add_argument("--work", default="/tmp/pyrovae-streaming")
    p.add_argument("--memmap-gb", type=float, default=4.0)
    p.add_argument("--limit-gb", type=float, default=1.0)
    p.add_argument("--memory-steps", type=int, default=300)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    pyro.enable_validation(False)
    os.makedirs(args.work, exist_ok=True)
    result = {
        "command": "python benchmarks/streaming.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"),
        "threads": args.threads,
        "torch": torch.__version__,
        "memory": memory_part(args),
        "throughput": throughput_part(args),
    }
    write_json(args.out, result)


if __name__ == "__main__":
    main()
