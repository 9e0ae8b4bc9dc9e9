"""Training on data read batch by batch (pyrovae.infer.streamed): memory and throughput.

1. Memory: a memory-mapped float32 array of ``--memmap-gb`` GB (rows of 784) is written to
   ``--work`` by one process; another trains a 784-200-20 VAE on it as ``pyrovae.data.ArrayRows``
   for ``--memory-steps`` steps of 128 (random rows over the whole file), inside a memory cgroup
   limited to ``--baseline-gb`` + ``--limit-gb`` where the machine lets us make one (cgroup v1,
   as root). Its anonymous resident memory (``RssAnon`` in /proc/self/status: what the process
   itself holds) is sampled every step and its peak above the level before training is
   reported against ``--limit-gb``, with the cgroup's peak usage and how often the limit forced
   the kernel to reclaim page cache.
2. Throughput: the same VAE (784-400-20) on binarized MNIST's 50000 training images, from the
   in-memory tensor and from ``ArrayRows`` over a memory-mapped ``.npy`` copy, ``--steps`` steps
   each, alternated ``--repeats`` times in one process; the ratio of the median times per step
   of the training loop (its set-up, which hashes the data, left out).

    python benchmarks/streaming.py --data ../shared/data --work /tmp/streaming --threads 2

Writes ``benchmarks/results/streaming.json``.
"""

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pyro
import torch
from _common import LoopTimer, command_line, parser, write_json

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
    """The peaks of anonymous and of total resident memory over the training steps."""

    def __init__(self):
        self.peak_anon_kb, self.peak_rss_kb = status_kb("RssAnon"), status_kb("VmRSS")

    def on_step_end(self, step, record):
        self.peak_anon_kb = max(self.peak_anon_kb, status_kb("RssAnon"))
        self.peak_rss_kb = max(self.peak_rss_kb, status_kb("VmRSS"))


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


def train_on_memmap(path, steps):
    """Train on the memory-mapped rows at ``path``; the memory this process held."""
    data = ArrayRows(np.load(path, mmap_mode="r"))
    torch.manual_seed(0)
    vae = build_vae({"data_shape": [ROW], "z_dim": 20, "hidden": [200]})
    before_anon, before_rss = status_kb("RssAnon"), status_kb("VmRSS")
    probe = MemoryProbe()
    start = time.perf_counter()
    train(
        vae.model, vae.guide, data, steps=steps, batch_size=128, progress=False, callbacks=[probe]
    )
    return {
        "rows": len(data),
        "steps": steps,
        "train_seconds": round(time.perf_counter() - start, 1),
        "rss_anon_before_gb": round(before_anon / 2**20, 3),
        "peak_rss_anon_above_before_gb": round((probe.peak_anon_kb - before_anon) / 2**20, 3),
        "vm_rss_before_gb": round(before_rss / 2**20, 3),
        "peak_vm_rss_during_training_gb": round(probe.peak_rss_kb / 2**20, 3),
    }


def _drop_page_cache():
    """Empty the page cache (as root), so the file's pages are not already in memory."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
        return True
    except OSError:
        return False


CGROUP = "/sys/fs/cgroup/memory"  # cgroup v1's memory controller, where this machine has it


def memory_part(args):
    path = os.path.join(args.work, f"rows_{args.memmap_gb:g}gb.npy")
    start = time.perf_counter()
    # written by another process, so that its pages are not counted in the trainer's
    writer = multiprocessing.get_context("spawn").Process(
        target=write_memmap, args=(path, args.memmap_gb)
    )
    writer.start()
    writer.join()
    if writer.exitcode != 0:
        raise RuntimeError(f"writing {path} failed (exit code {writer.exitcode})")
    written = time.perf_counter() - start
    dropped = _drop_page_cache()  # the trainer then reads from disk, charged to its cgroup
    limit = int((args.limit_gb + args.baseline_gb) * 2**30)
    group = os.path.join(CGROUP, f"pyrovae_streaming_{os.getpid()}")
    limited = os.access(CGROUP, os.W_OK)
    out = os.path.join(args.work, "child.json")
    child = [
        sys.executable,
        os.path.abspath(__file__),
        "--memory-child",
        path,
        out,
        "--memory-steps",
        str(args.memory_steps),
        "--threads",
        str(args.threads),
    ]
    if limited:  # the trainer runs in a memory cgroup of baseline + limit: it must fit there
        os.makedirs(group, exist_ok=True)
        with open(os.path.join(group, "memory.limit_in_bytes"), "w") as f:
            f.write(str(limit))
        command = ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh", *child]
    else:
        command = child
    finished = subprocess.run(command, check=False).returncode
    result = {
        "file_gb": round(os.path.getsize(path) / 2**30, 3),
        "write_seconds": round(written, 1),
        "page_cache_dropped_before_training": dropped,
    }
    if finished == 0:
        with open(out) as f:
            result.update(json.load(f))
    result["trainer_exit_code"] = finished
    if limited:

        def read(name):
            with open(os.path.join(group, name)) as f:
                return int(f.read())

        result.update(
            cgroup_limit_gb=round(limit / 2**30, 3),
            cgroup_max_usage_gb=round(read("memory.max_usage_in_bytes") / 2**30, 3),
            cgroup_limit_hits=read("memory.failcnt"),  # reclaims forced by the limit
        )
        os.rmdir(group)
    else:
        result["cgroup"] = f"not writable ({CGROUP}): the trainer ran without a memory limit"
    os.unlink(path)
    peak = result.get("peak_rss_anon_above_before_gb", float("inf"))
    result.update(
        limit_gb=args.limit_gb,
        baseline_gb=args.baseline_gb,
        within_limit=finished == 0 and peak <= args.limit_gb,
        note="the trainer's anonymous memory (RssAnon) is what it holds; VmRSS and the cgroup's "
        "usage also count the file's pages in the page cache, which the kernel reclaims at the "
        "limit (cgroup_limit_hits) and which fault-around maps 64 kB at a time",
    )
    return result


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
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":  # the trainer, in its cgroup
        path, out = sys.argv[2], sys.argv[3]
        steps, threads = int(sys.argv[5]), int(sys.argv[7])
        torch.set_num_threads(threads)
        pyro.enable_validation(False)
        with open(out, "w") as f:
            json.dump(train_on_memmap(path, steps), f)
        return
    p = parser(__doc__, "benchmarks/results/streaming.json")
    p.add_argument("--work", default="/tmp/pyrovae-streaming")
    p.add_argument("--memmap-gb", type=float, default=4.0)
    p.add_argument("--limit-gb", type=float, default=1.0)
    p.add_argument(
        "--baseline-gb",
        type=float,
        default=0.5,
        help="memory of the interpreter with torch and pyrovae loaded, added to the limit",
    )
    p.add_argument("--memory-steps", type=int, default=300)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    pyro.enable_validation(False)
    os.makedirs(args.work, exist_ok=True)
    result = {
        "command": command_line(args),
        "threads": args.threads,
        "torch": torch.__version__,
        "memory": memory_part(args),
        "throughput": throughput_part(args),
    }
    write_json(args.out, result)


if __name__ == "__main__":
    main()
