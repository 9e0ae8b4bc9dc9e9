"""Proposals for importance-weighted objectives (the model's prior, or a frozen guide) and the
one way to hold a model's or guide's parameters fixed."""

import pyro.poutine as poutine
import torch


def prior_proposal(model):
    """The model with its observed sites hidden: samples every latent from the prior."""
    return poutine.block(model, hide_fn=lambda msg: msg["type"] == "sample" and msg["is_observed"])


def hide_params(fn):
    """``fn`` with its ``pyro.param`` / ``pyro.module`` statements hidden from Pyro: an optimizer
    never sees (or moves) them, so the model is evaluated at fixed θ (a true posterior, LiBI's
    second stage) or the guide at fixed φ (a proposal)."""
    return poutine.block(fn, hide_types=["param"])


def frozen_proposal(guide):
    """``guide`` run without gradient and with its parameters hidden from Pyro (not trained)."""
    blocked = hide_params(guide)

    def proposal(*args, **kwargs):
        with torch.no_grad():
            return blocked(*args, **kwargs)

    return proposal
