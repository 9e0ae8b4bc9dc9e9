r"""Any Pyro model / guide pair with a data plate, adapted to what pyrovae needs of it.

Pyro's own example VAEs open ``pyro.plate("data", x.shape[0])``, a sizeless ``pyro.plate("data")``
or a plate with another name (``"z_minibatch"``), take one or several inputs and never take
``num_data``. pyrovae needs two facts from every call: which plate runs over the data points, and
the size N of the data set a minibatch of B points stands for (so that a minibatch loss is an
unbiased estimate of the full-data sum, as with Pyro's subsampled plates). :func:`adapt` wraps a
model or guide so that

* ``num_data`` is passed only to callables whose signature names it (the :func:`data_plate`
  idiom of :mod:`pyrovae.models.contract`); for the others, every sample site inside the data plate
  is scaled by N / B here, which equals Pyro's ``Trace_ELBO`` on the minibatch times N / B for a
  model without global latents (global latents, outside the plate, are not scaled);
* the data plate is found by itself: the one vectorized plate opened inside the call whose size is
  B (or that has no size). ``plate_name=`` names it instead (needed when two plates match);
* every site inside the data plate carries a :class:`~pyrovae.models.contract.DataPlateTag` in its
  ``infer`` dict (plate name, N, B, the scale applied), which the trace readers
  (:mod:`pyrovae.traces.sites`) use for per-point terms and for N.

Only Pyro's public effect-handler interface is used (a ``Messenger`` reading ``cond_indep_stack``
and setting ``scale`` and ``infer``, as ``poutine.scale`` and ``infer_config`` do).
"""

import functools
import inspect

import torch
from pyro.poutine.messenger import Messenger

from ..models.contract import DATA_PLATE_TAG, DataPlateTag

#: the name of the particle plate pyrovae and Pyro's ELBO open around a model (never the data plate)
PARTICLE_PLATE = "num_particles_vectorized"


def takes_num_data(fn) -> bool:
    """Whether ``fn``'s signature has a parameter named ``num_data`` (cached per function: a
    bound method is a new object at every attribute access, its function is not)."""
    function = getattr(fn, "__func__", fn)
    if inspect.isfunction(function):  # plain functions live as long as their module
        return _has_num_data(function)
    return _has_num_data.__wrapped__(fn)  # other callables (modules...) are not kept alive


@functools.lru_cache(maxsize=1024)
def _has_num_data(fn) -> bool:
    try:
        return "num_data" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or a callable without a signature
        return False


def leading_size(args, kwargs):
    """B: the length of dim 0 of the first tensor argument (positional first), or ``None``."""
    for value in (*args, *kwargs.values()):
        if torch.is_tensor(value) and value.dim() >= 1:
            return int(value.shape[0])
    return None


def _check_num_data(num_data, batch):
    if num_data is None:
        return None
    if isinstance(num_data, bool) or not float(num_data).is_integer() or int(num_data) <= 0:
        raise ValueError(
            f"num_data must be a positive whole number of data points, got {num_data!r}"
        )
    if batch is not None and int(num_data) < batch:
        raise ValueError(f"num_data={num_data} is smaller than the minibatch ({batch} points)")
    return int(num_data)


class _DataPlateMessenger(Messenger):
    """Finds the data plate of each sample site, tags the site and applies the N / B scale.

    Plates opened *outside* the adapted call are processed after this handler, so only the
    user's own plates are in ``cond_indep_stack`` when :meth:`_process_message` runs.
    """

    def __init__(self, plate_name, batch, num_data, apply_scale, owner):
        super().__init__()
        self.plate_name, self.batch, self.num_data = plate_name, batch, num_data
        self.apply_scale, self.owner = apply_scale, owner
        self.found = set()
        self.sampled = False  # whether the call has any sample site at all

    def _frame(self, msg):
        stack = msg["cond_indep_stack"]
        if self.plate_name is not None:
            return next((f for f in stack if f.name == self.plate_name), None)
        candidates = [
            f
            for f in stack
            if f.vectorized and f.name != PARTICLE_PLATE and f.size in (self.batch, -1)
        ]
        if len(candidates) > 1:
            names = ", ".join(repr(f.name) for f in candidates)
            raise ValueError(
                f"{self.owner}: site {msg['name']!r} lies in several plates that could run over "
                f"the {self.batch} data points ({names}); name the data plate with "
                f"plate_name={candidates[0].name!r} (or whichever runs over dim 0 of the data)"
            )
        return candidates[0] if candidates else None

    def _process_message(self, msg):
        if msg["type"] != "sample":
            return
        self.sampled = True
        frame = self._frame(msg)
        if frame is None:
            return
        self.found.add(frame.name)
        if len(self.found) > 1:
            raise ValueError(
                f"{self.owner}: sites lie in different plates of the minibatch's size "
                f"({sorted(self.found)}); name the data plate with plate_name="
            )
        subsampled = frame.full_size is not None and frame.full_size not in (-1, frame.size)
        batch = frame.size if frame.size > 0 else self.batch
        if batch is None:  # a sizeless plate and no tensor argument: nothing to scale by
            return
        if subsampled:  # the model subsamples itself (e.g. data_plate(x, num_data)): its N wins
            num_data, factor = int(frame.full_size), 1.0
        else:
            num_data = self.num_data if self.num_data is not None else batch
            factor = num_data / batch if self.apply_scale else 1.0
            if not self.apply_scale:
                num_data = batch  # the callable took num_data and did not use it
        if factor != 1.0:
            msg["scale"] = msg["scale"] * factor
        msg["infer"] = {
            **(msg["infer"] or {}),
            DATA_PLATE_TAG: DataPlateTag(frame.name, num_data, batch, factor),
        }


class ContractCallable:
    """A model or guide as pyrovae calls it: ``fn(*args, num_data=None, **kwargs)``.

    See the module docstring; made by :func:`adapt`. ``fn`` keeps the user's callable (bound
    methods keep their ``__self__``, from which :func:`pyrovae.infer.train` moves modules).
    """

    def __init__(self, fn, plate_name=None):
        self.fn = fn
        self.plate_name = plate_name
        self.takes_num_data = takes_num_data(fn)
        functools.update_wrapper(self, fn, updated=())

    @property
    def owner(self):
        """The object ``fn`` is a bound method of (``None`` for a plain function)."""
        return getattr(self.fn, "__self__", None)

    def __call__(self, *args, num_data=None, **kwargs):
        batch = leading_size(args, kwargs)
        num_data = _check_num_data(num_data, batch)
        name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        handler = _DataPlateMessenger(
            self.plate_name, batch, num_data, not self.takes_num_data, name
        )
        with handler:
            if self.takes_num_data:
                out = self.fn(*args, num_data=num_data, **kwargs)
            else:
                out = self.fn(*args, **kwargs)
        # a callable without sample sites (e.g. the empty guide of a classification loss) has
        # nothing to scale
        if handler.sampled and not handler.found and num_data is not None and num_data != batch:
            where = (
                f"a plate named {self.plate_name!r}"
                if self.plate_name is not None
                else f"a vectorized plate over the {batch} data points"
            )
            raise ValueError(
                f"{name}: no sample site lies inside {where}, so the minibatch cannot be scaled "
                f"to num_data={num_data}; open pyro.plate('data', x.shape[0]) (or a sizeless "
                "pyro.plate('data')) around the per-point sites, or name your data plate with "
                "plate_name="
            )
        return out

    def __repr__(self):
        return f"adapt({self.fn!r}, plate_name={self.plate_name!r})"


def adapt(fn, plate_name=None):
    """``fn`` (a model or guide) as a :class:`ContractCallable`; ``None`` stays ``None`` and an
    already adapted callable is returned as it is (unless another ``plate_name`` is asked)."""
    if fn is None:
        return None
    if isinstance(fn, ContractCallable):
        if plate_name is None or plate_name == fn.plate_name:
            return fn
        fn = fn.fn
    if not callable(fn):
        raise ValueError(f"a model or guide must be callable, got {type(fn).__name__}")
    return ContractCallable(fn, plate_name)


def unwrap(fn):
    """The user's callable inside an adapted one (``fn`` itself otherwise)."""
    return fn.fn if isinstance(fn, ContractCallable) else fn
