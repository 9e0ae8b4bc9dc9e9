"""Schedules of a training run: KL warm-up and learning-rate schedulers.

KL warm-up (Bowman et al. 2016, "Generating sentences from a continuous space"; Sønderby et al.
2016, "Ladder variational autoencoders"): the KL term's weight rises linearly from 0 to the
objective's own weight (β for BetaVAE, 1 − α for InfoVAE) over the first n steps, so the decoder
learns to use z before the KL pulls q(z|x) onto the prior. The factor depends on the step alone,
so a resumed run continues the schedule exactly.
"""

import math

import torch

from ..checks import check_count

SCHEDULER_INTERVALS = ("epoch", "step")


def check_kl_warmup(kl_warmup, objective):
    """``kl_warmup`` as an int ≥ 0, or ``ValueError`` (negative, or an objective without a KL
    weight to warm up)."""
    if kl_warmup is None:
        return 0
    n = check_count("kl_warmup (steps of the KL weight's linear warm-up)", kl_warmup, minimum=0)
    if n and getattr(objective, "kl_weight", None) is None:
        raise ValueError(
            f"{type(objective).__name__} has no KL term for kl_warmup to ramp up; use "
            "EvidenceLowerBound, BetaVAE or InfoVAE, or kl_warmup=0"
        )
    return n


def kl_scale(step: int, kl_warmup: int) -> float:
    """The warm-up factor in [0, 1] at 0-based ``step``: ``step / kl_warmup``, then 1."""
    return 1.0 if kl_warmup <= 0 else min(1.0, step / kl_warmup)


def is_scheduler(obj) -> bool:
    """Whether ``obj`` is a torch learning-rate scheduler (``ReduceLROnPlateau`` included)."""
    return isinstance(
        obj, (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    )


def check_scheduler_interval(interval):
    """``interval`` when it is one of ``SCHEDULER_INTERVALS`` (``"epoch"``, ``"step"``), else
    ``ValueError`` naming them."""
    if interval not in SCHEDULER_INTERVALS:
        raise ValueError(
            f"scheduler_interval must be one of {SCHEDULER_INTERVALS}, got {interval!r}"
        )
    return interval


def make_scheduler(factory, optimizer):
    """``factory(optimizer)``, checked to be a ``torch.optim.lr_scheduler`` scheduler."""
    if not callable(factory):
        raise ValueError(
            "scheduler must be a callable optimizer -> torch.optim.lr_scheduler scheduler, e.g. "
            "lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.5); got "
            f"{type(factory).__name__}"
        )
    scheduler = factory(optimizer)
    if not is_scheduler(scheduler):
        raise ValueError(
            "scheduler(optimizer) must return a torch.optim.lr_scheduler scheduler (LRScheduler "
            f"or ReduceLROnPlateau) built on the optimizer it is given; it returned "
            f"{type(scheduler).__name__}"
        )
    if scheduler.optimizer is not optimizer:
        raise ValueError(
            "scheduler(optimizer) built its scheduler on another optimizer; build it on the "
            "optimizer it is given"
        )
    return scheduler


def restore_scheduler(scheduler, state):
    """Load a scheduler's state and put its last learning rates back into the optimizer (a
    freshly built scheduler has set them to the schedule's start)."""
    scheduler.load_state_dict(state)
    for group, lr in zip(scheduler.optimizer.param_groups, scheduler.get_last_lr(), strict=False):
        group["lr"] = lr


def named_schedule(spec: str, epochs: int):
    """A scheduler factory from a CLI name: ``none``, ``step:EPOCHS:GAMMA`` (multiply the
    learning rate by GAMMA every EPOCHS epochs), ``multistep:E1,E2,...:GAMMA`` or ``cosine``
    (cosine annealing to 0 over ``epochs`` epochs). Schedulers step once per epoch."""
    parts = spec.split(":")
    name = parts[0]
    try:
        if name == "none" and len(parts) == 1:
            return None
        if name == "cosine" and len(parts) == 1:
            t_max = check_count("epochs (for the cosine schedule)", epochs)
            return lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max)
        if name == "step" and len(parts) == 3:
            every, gamma = int(parts[1]), float(parts[2])
            if every >= 1 and 0 < gamma and math.isfinite(gamma):
                return lambda opt: torch.optim.lr_scheduler.StepLR(opt, every, gamma)
        if name == "multistep" and len(parts) == 3:
            milestones = sorted(int(m) for m in parts[1].split(","))
            gamma = float(parts[2])
            if milestones[0] >= 1 and 0 < gamma and math.isfinite(gamma):
                return lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma)
    except ValueError:
        pass
    raise ValueError(
        f"unknown learning-rate schedule {spec!r}; use none, cosine, step:EPOCHS:GAMMA "
        "(e.g. step:100:0.5) or multistep:E1,E2,...:GAMMA (e.g. multistep:200,350:0.631)"
    )
