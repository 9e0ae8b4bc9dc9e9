"""Shared by the posterior benchmarks: arguments, a small trained VAE, writing the JSON."""

import argparse
import json
import os

import pyro
import torch

from pyrovae.data import load_binarized_mnist, random_subset
from pyrovae.infer import EvidenceLowerBound, train
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


def write_json(path, result):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
