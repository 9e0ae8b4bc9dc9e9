"""A small VAE trained briefly on binarized MNIST, shared by the posterior benchmarks."""

import torch

from pyrovae.data import load_binarized_mnist
from pyrovae.infer import ELBO, train
from pyrovae.models import build_vae


def trained_vae(data_path, z_dim=10, hidden=200, steps=1500, seed=0):
    """(vae, test data): MLP 784-hidden-z_dim, Bernoulli, ELBO, ``steps`` Adam steps of 128."""
    x = load_binarized_mnist(data_path, "train")
    torch.manual_seed(seed)
    vae = build_vae({"data_shape": [784], "z_dim": z_dim, "hidden": [hidden]})
    train(vae.model, vae.guide, x, ELBO(), steps=steps, batch_size=128, lr=1e-3, seed=seed, progress=False)
    return vae, load_binarized_mnist(data_path, "test")
