"""Fit a per-point Gaussian guide to a fixed decoder (the q* of Cremer et al. 2018)."""

import math

import pyro
import pyro.poutine as poutine
import torch

from ..guides import PerPointGaussian, guide_gaussian_params
from ..traces import hide_params
from .elbo import EvidenceLowerBound


def fit_per_point_guide(
    model,
    x,
    init_guide=None,
    steps=500,
    lr=0.05,
    num_particles=8,
    site="z",
    seed=0,
    init_loc=None,
    init_scale=None,
) -> PerPointGaussian:
    """Fit a :class:`PerPointGaussian` to the posterior of every point of ``x`` by maximizing the
    ELBO over the guide's parameters only (Adam, learning rate decayed linearly to 5%); the
    model's parameters are not touched.

    :param init_guide: start from this guide's Gaussian (e.g. the amortized encoder);
        or give ``init_loc`` / ``init_scale`` (B, D) directly (e.g. exact posterior moments).
    """
    pyro.set_rng_seed(seed)
    if init_loc is not None:
        q = PerPointGaussian(x.shape[0], init_loc.shape[-1], init_loc, init_scale, site).to(
            x.device
        )
    elif init_guide is not None:
        loc, scale = guide_gaussian_params(init_guide, x, site)
        q = PerPointGaussian(x.shape[0], loc.shape[-1], loc, scale, site).to(x.device)
    else:
        with torch.no_grad():
            z = poutine.trace(model).get_trace(x).nodes[site]["value"]
        q = PerPointGaussian(x.shape[0], z.reshape(x.shape[0], -1).shape[-1], site=site).to(
            x.device
        )
    params = [q.loc, q.raw_scale]
    opt = torch.optim.Adam(params, lr=lr)
    elbo = EvidenceLowerBound(
        num_particles=num_particles, vectorize_particles=True, max_plate_nesting=1
    )
    fixed_model = hide_params(model)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 - 0.95 * t / max(steps, 1))
    for _ in range(steps):
        loss = elbo.differentiable_loss(fixed_model, q.guide, x)
        if not math.isfinite(loss.item()):
            raise FloatingPointError("fitting the per-point guide produced a non-finite ELBO")
        grads = torch.autograd.grad(loss, params)
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        opt.step()
        schedule.step()
    return q
