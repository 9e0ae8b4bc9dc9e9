"""Both stages of LiBI with the training loop: likelihood first, then inference."""

from ..traces import hide_params
from .elbo import EvidenceLowerBound
from .libi import LiBI
from .train import train


def frozen_model(model):
    """``model`` with its parameters hidden from Pyro: an optimizer never sees (or moves) them
    (:func:`pyrovae.traces.hide_params`)."""
    return hide_params(model)


def libi_fit(
    model,
    guide,
    data,
    stage1_steps=2000,
    stage2_steps=1000,
    num_samples=500,
    proposal=None,
    batch_size=256,
    lr=1e-3,
    seed=0,
    device=None,
    progress=True,
    checkpoint_dir=None,
):
    """Stage 1: fit the generative model by maximizing log p̂_θ(x) (:class:`LiBI`); stage 2: fit
    the guide by the ELBO with the generative model frozen. Returns ``{"likelihood": TrainResult,
    "inference": TrainResult}``; ``checkpoint_dir`` gets one checkpoint per stage."""
    ck = (lambda name: f"{checkpoint_dir}/{name}.pt") if checkpoint_dir else (lambda name: None)
    first = train(
        model,
        guide,
        data,
        LiBI(num_samples, proposal),
        steps=stage1_steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
        checkpoint=ck("likelihood"),
    )
    second = train(
        frozen_model(model),
        guide,
        data,
        EvidenceLowerBound(),
        steps=stage2_steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed + 1,
        device=device,
        progress=progress,
        clear_param_store=False,
        checkpoint=ck("inference"),
    )
    return {"likelihood": first, "inference": second}
