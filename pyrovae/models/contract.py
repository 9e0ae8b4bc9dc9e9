r"""The model / guide contract that every pyrovae objective and estimator relies on.

Any Pyro pair ``model(*args, **kwargs)`` / ``guide(*args, **kwargs)`` with a *data plate* — a
vectorized plate over dimension 0 of the data, sized (``pyro.plate("data", x.shape[0])``) or
sizeless (``pyro.plate("data")``), with any name — is accepted; :func:`pyrovae.traces.adapt`
finds the plate and the data-set size N:

1. The data are one tensor, a tuple of aligned tensors or a dict of them
   (:mod:`pyrovae.models.inputs`), with data points along dim 0.
2. A callable whose signature names ``num_data`` gets it (N, or ``None`` for "the minibatch is the
   data set") and opens the plate itself, e.g. with :func:`data_plate`, which scales every site in
   it by N / B. Any other callable is called as it is, and the adapter scales the sites of its data
   plate by N / B. Either way each such site carries a :class:`DataPlateTag` in its ``infer``.
3. Inside the data plate the model samples its local latent site(s) and observes the data; the
   guide samples the same latent sites. Reparameterizable sites get pathwise gradients; discrete
   ones score-function gradients, or exact sums when marked for parallel enumeration
   (:mod:`pyrovae.traces.enumeration`).
4. Latent sites outside the data plate (global latents) are allowed by the ELBO-type objectives
   (they enter the KL term) but not by IWAE or the aggregate-posterior divergence of InfoVAE.

Example (the :func:`data_plate` idiom; a plain ``pyro.plate("data", x.shape[0])`` works too)::

    def model(x, num_data=None):
        pyro.module("decoder", decoder)
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), 2), 1.0).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=decoder(z)).to_event(1), obs=x)

    def guide(x, num_data=None):
        pyro.module("encoder", encoder)
        with data_plate(x, num_data):
            loc, scale = encoder(x)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))
"""

import contextlib
import contextvars
from dataclasses import dataclass

import pyro
import torch

DATA_PLATE = "data"

#: the key of :class:`DataPlateTag` in a sample site's ``infer`` dict
DATA_PLATE_TAG = "pyrovae_data_plate"


@dataclass(frozen=True)
class DataPlateTag:
    """What :func:`pyrovae.traces.adapt` found out about a site inside the data plate.

    :ivar name: the data plate's name (whatever the user called it).
    :ivar num_data: N, the size of the whole data set the minibatch stands for.
    :ivar batch: B, the data points in the minibatch.
    :ivar factor: the scale the adapter applied on top of the plate's own (N / B when the model
        does not take ``num_data`` and its plate is not subsampled; 1 otherwise).
    """

    name: str
    num_data: int
    batch: int
    factor: float


def data_plate_tag(site) -> DataPlateTag | None:
    """The site's :class:`DataPlateTag`, or ``None`` (a site outside the data plate, or a model
    not run through :func:`pyrovae.traces.adapt`)."""
    return (site.get("infer") or {}).get(DATA_PLATE_TAG)


_DATA_VALIDATED = contextvars.ContextVar("pyrovae_data_validated", default=False)


@contextlib.contextmanager
def data_already_validated():
    """Within this block models skip their per-call data checks (the caller checked the whole
    data set once, as :func:`pyrovae.infer.train` does before its first step)."""
    token = _DATA_VALIDATED.set(True)
    try:
        yield
    finally:
        _DATA_VALIDATED.reset(token)


def should_validate_data() -> bool:
    """Whether a model should check its data now: Pyro validation on, and not already checked."""
    from pyro.infer.util import is_validation_enabled

    return is_validation_enabled() and not _DATA_VALIDATED.get()


def data_plate(x: torch.Tensor, num_data: int | None = None, name: str = DATA_PLATE):
    """The data plate over dimension 0 of ``x``, scaled to a data set of ``num_data`` points."""
    batch = x.shape[0]
    if num_data is None or int(num_data) == batch:
        return pyro.plate(name, batch, device=x.device)
    if int(num_data) < batch:
        raise ValueError(f"num_data={num_data} is smaller than the minibatch ({batch} points)")
    # the indices are never used to index x (the caller already subsampled); they set the scale N/B
    return pyro.plate(name, int(num_data), subsample=torch.arange(batch, device=x.device))
