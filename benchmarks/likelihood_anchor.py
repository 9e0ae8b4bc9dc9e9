"""Anchor the importance-sampled log-likelihood against a published number (issue 4, Table 1 part).

An MLP VAE (784-200-200-50, Bernoulli, ELBO, Adam) on the static binarized MNIST; test NLL by
importance sampling with the guide as proposal, K = 5000 (Burda et al. 2016). pythae reports 89.78
nats for this kind of model; a correct estimator on a well-trained model should give ≤ 89.

    python benchmarks/likelihood_anchor.py --data ../shared/data --steps 200000 \
        --out benchmarks/results/likelihood_anchor.json
"""

import os
import sys
import time

import pyro
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _common import parser, write_json

from pyrovae.data import load_binarized_mnist, random_subset
from pyrovae.experiments.infovae_likelihood import anchor_nll


def main(argv=None):
    p = parser(__doc__, "benchmarks/results/likelihood_anchor.json")
    p.add_argument("--steps", type=int, default=200000, help="Adam steps of 100 images")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--test-points", type=int, default=10000)
    p.add_argument("--k", type=int, default=5000)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    pyro.enable_validation(False)
    x_train = load_binarized_mnist(args.data, "train")
    x_test = random_subset(
        load_binarized_mnist(args.data, "test"), args.test_points
    )  # class-ordered split
    start = time.perf_counter()
    result = anchor_nll(
        x_train, x_test, args.steps, args.lr, args.k, device=args.device, progress=True
    )
    result.update(seconds=time.perf_counter() - start, device=args.device, threads=args.threads)
    write_json(args.out, result)
    print(
        f"test NLL {result['test_nll']:.2f} ± {result['stderr']:.3f} nats (ELBO "
        f"{-result['elbo']:.2f}) "
        f"on {result['n_test']} test images, K = {result['num_samples']}"
    )


if __name__ == "__main__":
    main()
