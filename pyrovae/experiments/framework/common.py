"""What every experiment shares: profiles, output folder, results.json."""

import json
import os

import torch

from ...checkpoint import write_atomic
from ...infer import EvidenceLowerBound, train

#: the profiles every experiment defines (some add their own, e.g. "cpu" and "paper")
PROFILES = ("quick", "full")


def check_profile(profile, module=None, name="this experiment"):
    """``profile`` when it is one of :data:`PROFILES` or of ``module.PROFILES``, else
    ``ValueError`` naming the ones there are."""
    known = list(module.PROFILES) if module is not None else list(PROFILES)
    if profile not in known:
        raise ValueError(f"{name} has the profiles {', '.join(known)}; got {profile!r}")
    return profile


def prepare_out(out):
    """Create the output folder ``out`` (and its parents) when missing; returns it."""
    os.makedirs(out, exist_ok=True)
    return out


def jsonable(value):
    """``value`` with tensors and numpy numbers as lists and Python numbers (what JSON stores)."""
    if torch.is_tensor(value):
        return value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def write_results(out, results: dict) -> dict:
    """Write ``results.json`` (tensors become lists; a temporary file renamed when complete)
    and return the JSON-ready dict."""
    results = jsonable(results)
    text = json.dumps(results, indent=2)
    write_atomic(os.path.join(out, "results.json"), text.encode())
    return results


@torch.no_grad()
def encode_in_batches(vae, x, batch=500):
    """(loc, scale) of q(z|x) for every row of ``x``, encoded ``batch`` rows at a time."""
    locs, scales = zip(
        *(vae.encode(x[i : i + batch]) for i in range(0, x.shape[0], batch)), strict=True
    )
    return torch.cat(locs), torch.cat(scales)


def fit(vae, x, objective, config, *, seed, device, progress, **options):
    """``train(vae.model, vae.guide, x, objective)`` with the experiment config's ``steps``,
    ``batch_size`` and ``lr`` (those it has), and its ``stage_minutes`` > 0 as ``time_limit``;
    ``options`` override them or add any other :func:`pyrovae.infer.train` option. Returns its
    ``TrainResult``."""
    settings = {k: getattr(config, k) for k in ("steps", "batch_size", "lr") if hasattr(config, k)}
    if getattr(config, "stage_minutes", 0):
        settings["time_limit"] = config.stage_minutes
    settings.update(options)
    return train(
        vae.model, vae.guide, x, objective, seed=seed, device=device, progress=progress, **settings
    )


def train_phases(model, guide, x, phases, batch_size, seed=0, device="cpu", progress=False):
    """ELBO training in (steps, learning rate) phases, a fresh Adam each; the param store is
    cleared only before the first phase (later phases continue this model's parameters).
    Returns the concatenated history with steps counted across phases."""
    history = []
    for phase, (steps, lr) in enumerate(phases):
        result = train(
            model,
            guide,
            x,
            EvidenceLowerBound(),
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            device=device,
            progress=progress,
            clear_param_store=phase == 0,
        )
        offset = len(history)
        history += [{**r, "step": r["step"] + offset} for r in result.history]
    return history


def stored_grid(g, columns=None):
    """A :class:`~pyrovae.posterior.GridResult` as lists for results.json (``columns``: the data
    points to keep), enough for :func:`pyrovae.plotting.plot_posteriors`."""
    cols = slice(None) if columns is None else list(columns)
    return {
        "points": g.points.tolist(),
        "weights": g.weights[:, cols].tolist(),
        "mean": g.mean[cols].tolist(),
        "covariance": g.covariance[cols].tolist(),
        "cell_volume": float(g.cell_volume),
        "shape": list(g.shape),
    }


def grid_view(stored):
    """What :func:`stored_grid` kept, as the tensors ``plot_posteriors`` reads."""
    import types

    return types.SimpleNamespace(
        points=torch.tensor(stored["points"]),
        weights=torch.tensor(stored["weights"]),
        mean=torch.tensor(stored["mean"]),
        covariance=torch.tensor(stored["covariance"]),
        cell_volume=stored["cell_volume"],
        shape=tuple(stored["shape"]),
    )
