"""A training step reads the device once: the loss, its terms and the gradient norm come back
to the host in one transfer, and no objective adds reads or module moves of its own (on CUDA
each read waits for the GPU; the adversarial divergence used to move its discriminator and
the stepper to read every term separately, benchmarks/results/objective_step_ops*.json)."""

import collections

import pyro
import pytest
import torch
from helpers import binary_data, small_vae
from torch.overrides import TorchFunctionMode

from pyrovae.infer import Callback, EvidenceLowerBound, InfoVAE, train

HOST_READS = {"item", "tolist", "cpu", "numpy", "__float__", "__bool__", "__int__", "__index__"}


class Reads(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in HOST_READS or name in ("to", "cuda"):
            self.calls[name] += 1
        return func(*args, **(kwargs or {}))


class CountSteps(Callback):
    """Counts over the steps after the second (set-up and parameter creation done)."""

    def __init__(self):
        self.reads = Reads()

    def on_step_end(self, step, record):
        if step == 2:
            self.reads.__enter__()
        elif step == 5:
            self.reads.__exit__(None, None, None)


@pytest.mark.parametrize(
    "objective",
    [
        EvidenceLowerBound(),
        InfoVAE(1.0, 100.0, "mmd"),
        InfoVAE(1.0, 100.0, "stein"),
        InfoVAE(1.0, 100.0, "adversarial"),
    ],
    ids=["elbo", "mmd", "stein", "adversarial"],
)
def test_one_host_transfer_and_no_module_moves_per_step(objective):
    """With Pyro's and torch's argument validation off (with it on, every distribution's
    support check and every site's NaN warning reads the device too: 14 reads per step of
    this model)."""
    vae, x = small_vae(), binary_data(96)
    probe = CountSteps()
    validate = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        with pyro.validation_enabled(False):
            train(
                vae.model,
                vae.guide,
                x,
                objective,
                steps=6,
                batch_size=32,  # 3 steps per epoch: steps 3-5 are one epoch
                progress=False,
                callbacks=[probe],
            )
    finally:
        torch.distributions.Distribution.set_default_validate_args(validate)
    calls = dict(probe.reads.calls)
    # one .cpu() of the stacked values and its .tolist() per step; the batch's .to(device)
    # per step and the epoch's permutation's once
    assert calls == {"cpu": 3, "tolist": 3, "to": 4}, calls
