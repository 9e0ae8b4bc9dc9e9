"""The data a model is called with: one tensor, a tuple of aligned tensors, or a dict of them.

Pyro's conditional VAE is ``model(xs, ys)``; its semi-supervised VAE is ``model(xs, ys=None)``.
pyrovae's training loop and estimators take the data in the form the model takes it and cut
minibatches along dim 0 of every tensor together:

* a tensor ``x`` (N, ...) → ``model(x)``;
* a tuple ``(xs, ys)`` of tensors with the same N → ``model(xs, ys)``;
* a dict ``{"xs": xs, "ys": ys}`` → ``model(xs=xs, ys=ys)``.

Non-tensor entries (``None``, numbers, strings) are passed unchanged with every minibatch.
"""

import torch

__all__ = ["Inputs", "as_inputs", "call_arguments"]


class Inputs:
    """Aligned model arguments, cut into minibatches together.

    :ivar args: positional arguments (tensors with data points along dim 0, or constants).
    :ivar kwargs: keyword arguments, likewise.
    """

    def __init__(self, args=(), kwargs=None):
        self.args, self.kwargs = tuple(args), dict(kwargs or {})
        tensors = self.tensors()
        if not tensors:
            kinds = sorted({type(v).__name__ for v in (*self.args, *self.kwargs.values())})
            raise ValueError(
                f"the data hold no torch.Tensor (got {', '.join(kinds) or 'nothing'}): give a "
                "tensor (N, ...), a tuple of tensors or a dict of tensors with the data points "
                "along dim 0; convert arrays or lists with torch.as_tensor(x, dtype=torch.float32)"
            )
        sizes = {name: t.shape[0] if t.dim() else None for name, t in tensors.items()}
        if None in sizes.values() or len(set(sizes.values())) > 1:
            shown = ", ".join(f"{k}: {tuple(tensors[k].shape)}" for k in sizes)
            raise ValueError(
                f"the data's tensors must all have the data points along dim 0, with the same "
                f"number of points; got {shown}"
            )
        self.num_points = next(iter(sizes.values()))

    # ----- what is in it ---------------------------------------------------------------------
    def tensors(self) -> dict:
        """``{label: tensor}`` for every tensor argument (labels ``arg0``, ..., or the keys)."""
        out = {f"arg{i}": a for i, a in enumerate(self.args) if torch.is_tensor(a)}
        out.update({k: v for k, v in self.kwargs.items() if torch.is_tensor(v)})
        return out

    @property
    def primary(self) -> torch.Tensor:
        """The first tensor (the observations ``x`` of a one-input model)."""
        return next(iter(self.tensors().values()))

    @property
    def single(self) -> bool:
        """Whether this is one tensor and nothing else (``model(x)``)."""
        return len(self.args) == 1 and not self.kwargs and torch.is_tensor(self.args[0])

    def __len__(self):
        return self.num_points

    @property
    def device(self):
        return self.primary.device

    # ----- new Inputs ------------------------------------------------------------------------
    def _map(self, fn):
        args = tuple(fn(a) if torch.is_tensor(a) else a for a in self.args)
        kwargs = {k: fn(v) if torch.is_tensor(v) else v for k, v in self.kwargs.items()}
        return Inputs(args, kwargs)

    def index_select(self, idx) -> "Inputs":
        """The data points ``idx`` (a 1-D index tensor) of every tensor."""
        return self._map(lambda t: t.index_select(0, idx.to(t.device)))

    def slice(self, start, stop) -> "Inputs":
        return self._map(lambda t: t[start:stop])

    def split(self, chunks: int) -> list:
        """Near-equal consecutive pieces (as ``torch.tensor_split``)."""
        bounds = torch.tensor_split(torch.arange(self.num_points), chunks)
        return [self.slice(int(b[0]), int(b[-1]) + 1) for b in bounds if len(b)]

    def to(self, device=None, dtype=None) -> "Inputs":
        """Every tensor moved to ``device``; floating tensors converted to ``dtype``."""

        def move(t):
            if dtype is not None and torch.is_floating_point(t):
                return t.to(device=device, dtype=dtype)
            return t.to(device=device)

        return self._map(move)

    def call(self, fn, **extra):
        """``fn(*args, **kwargs, **extra)``."""
        return fn(*self.args, **self.kwargs, **extra)

    def unwrap(self):
        """The form the user gave: the tensor itself for one input, else ``self``."""
        return self.args[0] if self.single else self

    def __repr__(self):
        shapes = {k: tuple(v.shape) for k, v in self.tensors().items()}
        return f"Inputs({shapes})"


def as_inputs(data) -> Inputs:
    """``data`` (a tensor, a tuple of tensors, a dict, or :class:`Inputs`) as
    :class:`Inputs`; anything else is a ``ValueError`` naming the accepted forms."""
    if isinstance(data, Inputs):
        return data
    if torch.is_tensor(data):
        return Inputs((data,))
    if isinstance(data, list):
        raise ValueError(
            "data given as a list is ambiguous: for several model inputs give a tuple "
            "(model(xs, ys) ← (xs, ys)); for a list of data points give one torch.Tensor, "
            "e.g. torch.stack(points) or torch.as_tensor(rows, dtype=torch.float32)"
        )
    if isinstance(data, tuple):
        return Inputs(data)
    if isinstance(data, dict):
        if not all(isinstance(k, str) for k in data):
            raise ValueError("a dict of inputs must have str keys (the model's argument names)")
        return Inputs((), data)
    raise ValueError(
        f"data must be a torch.Tensor (N, ...), a tuple of aligned tensors (model(xs, ys)) or a "
        f"dict of them (model(xs=..., ys=...)), got {type(data).__name__}; convert arrays with "
        "torch.as_tensor(x, dtype=torch.float32)"
    )


def call_arguments(data):
    """``(args, kwargs)`` for calling a model on ``data`` (a tensor or anything
    :func:`as_inputs` takes)."""
    if torch.is_tensor(data):
        return (data,), {}
    inputs = as_inputs(data)
    return inputs.args, inputs.kwargs
