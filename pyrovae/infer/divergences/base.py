"""The record every divergence returns."""

from dataclasses import dataclass

import torch


@dataclass
class DivergenceEstimate:
    """``value``: the estimate of D reported in the loss; ``surrogate``: the tensor whose gradient
    (w.r.t. the encoder, through ``q_samples``) is the gradient of D -- equal to ``value`` when D
    is differentiated directly; ``auxiliary``: an extra loss minimized by the divergence's own
    parameters (a discriminator), 0 when there are none. The objective adds the surrogate and the
    auxiliary loss as zero-valued terms, so the loss value stays the objective's value."""

    value: torch.Tensor
    surrogate: torch.Tensor
    auxiliary: torch.Tensor = None
