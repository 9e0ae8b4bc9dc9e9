"""Proposals for importance-weighted objectives: the model's prior, or a frozen guide."""

import pyro.poutine as poutine
import torch


def prior_proposal(model):
    """The model with its observed sites hidden: samples every latent from the prior."""
    return poutine.block(model, hide_fn=lambda msg: msg["type"] == "sample" and msg["is_observed"])


def frozen_proposal(guide):
    """``guide`` run without gradient and with its parameters hidden from Pyro (not trained)."""
    blocked = poutine.block(guide, hide_types=["param"])

    def proposal(*args, **kwargs):
        with torch.no_grad():
            return blocked(*args, **kwargs)

    return proposal
