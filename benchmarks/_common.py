"""Shared by the benchmarks: arguments, a small trained VAE, timing the training loop, the
command line and writing the JSON."""

import argparse
import json
import os
import sys
import time

import pyro
import torch

from pyrovae.data import load_binarized_mnist, random_subset
from pyrovae.infer import Callback, EvidenceLowerBound, train
from pyrovae.models import build_vae


def parser(doc, out):
    """An argument parser with --data, --out, --device and --threads."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default=os.environ.get("PYROVAE_DATA", "../shared/data"))
    p.add_argument("--out", default=out)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    return p


def setup(args, z_dim):
    """Threads, validation off, the trained VAE on the device; returns (vae, test data, device)."""
    torch.set_num_threads(args.threads)
    pyro.enable_validation(False)
    vae, test = trained_vae(args.data, z_dim=z_dim)
    device = torch.device(args.device)
    return vae.to(device), test.to(device), device


def trained_vae(data_path, z_dim=10, hidden=200, steps=1500, seed=0):
    """(vae, test data): MLP 784-hidden-z_dim, Bernoulli, ELBO, ``steps`` Adam steps of 128."""
    x = load_binarized_mnist(data_path, "train")
    torch.manual_seed(seed)
    vae = build_vae({"data_shape": [784], "z_dim": z_dim, "hidden": [hidden]})
    train(
        vae.model,
        vae.guide,
        x,
        EvidenceLowerBound(),
        steps=steps,
        batch_size=128,
        lr=1e-3,
        seed=seed,
        progress=False,
    )
    # shuffled: the binarized test split is ordered by class, so test[:n] would be n zeros
    return vae, random_subset(load_binarized_mnist(data_path, "test"), 10000, seed)


def train_infovae_network(network, objective, x, args, steps, seed, callback):
    """A fresh InfoVAE-paper VAE (dim z = 5, ``network`` "conv" or "pixelcnn", the width
    ``args.channels`` / ``args.hidden``) trained ``steps`` steps of batch 100 with ``callback``
    watching (the objective-cost benchmarks time or count its steps)."""
    from pyrovae.models import conv_vae

    vae = conv_vae(5, channels=args.channels, hidden=args.hidden, decoder=network, seed=seed)
    train(
        vae.model,
        vae.guide,
        x,
        objective,
        steps=steps,
        batch_size=100,
        device=args.device,
        seed=seed,
        progress=False,
        callbacks=[callback],
    )


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository


class LoopTimer(Callback):
    """Wall time of ``train``'s loop after its first ``skip`` steps (set-up, e.g. hashing the
    data, and warm-up steps left out): ``seconds``."""

    def __init__(self, skip=0):
        self.skip, self.start, self.seconds = skip, None, None

    def on_train_begin(self, config):
        if self.skip == 0:
            self.start = time.perf_counter()

    def on_step_end(self, step, record):
        if step == self.skip:
            self.start = time.perf_counter()

    def on_train_end(self, result):
        self.seconds = time.perf_counter() - self.start


def command_line(args):
    """The command that reproduces a run: the script and every option but ``--out``."""
    script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    options = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out")
    return f"python {script} {options}"


def write_json(path, result):
    """Write ``result`` to ``path`` (relative paths from the repository's root, wherever the
    script runs) and print it."""
    path = path if os.path.isabs(path) else os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
