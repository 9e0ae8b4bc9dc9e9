r"""Several data streams in one training run: semi-supervised VAEs as Pyro users write them.

Kingma, Rezende, Mohamed, Welling 2014 ("Semi-supervised learning with deep generative models",
the M2 model of Pyro's SS-VAE example) train on two kinds of data at once: labelled pairs
(x, y), where y is observed, and images x alone, where y is a latent of the guide (enumerated or
sampled). With an optional classification term on the labelled pairs, the objective is

.. math::
    \mathcal{J} = \sum_{(x, y) \in \mathcal{D}_l} \mathcal{L}(x, y)
                + \sum_{x \in \mathcal{D}_u} \mathcal{U}(x)
                + \alpha \sum_{(x, y) \in \mathcal{D}_l} -\log q_\phi(y|x),

each sum over its own data set. Pass ``train`` a list of :class:`Stream` as the data: each
stream has its own data (a tensor, a tuple or a dict of aligned tensors, as :func:`train`
takes), its own minibatch size and, optionally, its own model / guide callables (the same
parameters, e.g. ``ss_vae.model_classify`` for the α term) and a weight. Every step draws one
minibatch from every stream (each cycles through its own permutation, so a small labelled set
is revisited more often), evaluates the objective on each with that stream's N / B scale, and
takes one optimizer step on the weighted sum: an unbiased estimate of the gradient of
:math:`\mathcal{J}`.

History rows hold ``loss`` (the weighted sum, in nats per point of all streams together, i.e.
divided by Σ N_s) and, per stream, ``<name>/loss`` and its terms (``<name>/kl``, ...) in nats per
point of that stream. One epoch is one pass over the stream with the most minibatches.
"""

from dataclasses import dataclass

import torch

from ..checks import check_count, check_weight
from ..models.inputs import Inputs, as_inputs
from ..traces import adapt
from .batches import batch_indices
from .record import ObjectiveRecord

__all__ = ["Stream", "is_streams"]


@dataclass
class Stream:
    """One data stream of a multi-stream :func:`~pyrovae.infer.train` run.

    :param data: a tensor (N, ...), a tuple of aligned tensors (→ ``model(xs, ys)``) or a dict
        (→ keyword arguments), as :func:`~pyrovae.infer.train` takes them.
    :param model: with ``guide``, the callables for this stream; default the ``model`` / ``guide``
        given to ``train``. Any signature; the data plate is found as for ``train``.
    :param batch_size: this stream's minibatch size (default ``train``'s ``batch_size``).
    :param weight: the stream's weight in the summed objective (e.g. Kingma et al.'s α for a
        classification stream); ≥ 0.
    :param name: the prefix of this stream's history columns (default ``stream0``, ...).
    """

    data: object
    model: object = None
    guide: object = None
    batch_size: int = None
    weight: float = 1.0
    name: str = None


def is_streams(data) -> bool:
    """Whether ``data`` is a list or tuple of :class:`Stream` (a non-empty one)."""
    return (
        isinstance(data, (list, tuple))
        and len(data) > 0
        and all(isinstance(s, Stream) for s in data)
    )


class StreamBatch(Inputs):
    """One minibatch per stream, passed through the training loop as one argument."""

    def __init__(self, batches):  # no Inputs checks: the streams' own Inputs were checked
        self.args, self.kwargs = (batches,), {}
        self.batches = batches

    @property
    def num_points(self) -> int:
        return sum(b.num_points for b in self.batches.values())


class StreamSet:
    """The streams of one run, checked, with their data as :class:`Inputs`: the pieces of the
    ``Inputs`` interface that :func:`train` uses (``num_points``, ``primary``, ``device``,
    ``to``, ``slice``) plus :meth:`batch` (one minibatch per stream at a step)."""

    def __init__(self, streams, model, guide, batch_size, plate_name=None):
        names = []
        self.streams = []
        if any(isinstance(s.data, Stream) for s in streams):
            raise ValueError("a Stream's data must be tensors, not another Stream")
        for k, s in enumerate(streams):
            name = s.name or f"stream{k}"
            if not isinstance(name, str) or "/" in name or name in names:
                raise ValueError(
                    f"stream names must be distinct strings without '/', got {name!r}; "
                    "give each Stream its own name="
                )
            names.append(name)
            inputs = as_inputs(s.data)
            size = min(check_count(f"{name}: batch_size", s.batch_size or batch_size), len(inputs))
            weight = check_weight(f"{name}: weight", s.weight)
            self.streams.append(
                _Prepared(
                    name,
                    inputs,
                    adapt(s.model if s.model is not None else model, plate_name),
                    adapt(s.guide if s.guide is not None else guide, plate_name),
                    size,
                    float(weight),
                )
            )
        self.num_data = sum(len(s.inputs) for s in self.streams)

    @property
    def batches_per_epoch(self) -> int:
        return max(max(len(s.inputs) // s.batch_size, 1) for s in self.streams)

    @property
    def num_points(self) -> int:
        return self.num_data

    @property
    def primary(self) -> torch.Tensor:
        return self.streams[0].inputs.primary

    @property
    def device(self):
        return self.streams[0].inputs.device

    def to(self, device=None, dtype=None) -> "StreamSet":
        for s in self.streams:
            s.inputs = s.inputs.to(device=device, dtype=dtype)
        return self

    def slice(self, start, stop) -> StreamBatch:
        return StreamBatch({s.name: s.inputs.slice(0, s.batch_size) for s in self.streams})

    def batch(self, step, seed, device) -> StreamBatch:
        """One minibatch per stream at ``step``: stream k cycles through its own permutation
        (``batch_indices(step, N_k, B_k, seed + k, device)``)."""
        return StreamBatch(
            {
                s.name: s.inputs.index_select(
                    batch_indices(step, len(s.inputs), s.batch_size, seed + k, device)
                )
                for k, s in enumerate(self.streams)
            }
        )

    def settings(self) -> list:
        """What a resumed run must agree on: per stream its name, N, batch size and weight."""
        return [[s.name, len(s.inputs), s.batch_size, s.weight] for s in self.streams]


@dataclass
class _Prepared:
    name: str
    inputs: Inputs
    model: object
    guide: object
    batch_size: int
    weight: float


class StreamsObjective:
    """The weighted sum over streams of ``objective`` evaluated on each stream's minibatch with
    its own model, guide and N (``evaluate`` takes a :class:`StreamBatch` as its one argument)."""

    def __init__(self, objective, stream_set):
        if not hasattr(objective, "evaluate"):
            raise ValueError(
                f"training on several streams needs a pyrovae objective (EvidenceLowerBound, "
                f"BetaVAE, IWAE, ...), got {type(objective).__name__}: its per-stream record "
                "is summed before the step"
            )
        self.objective, self.stream_set = objective, stream_set

    def evaluate(self, model, guide, args, kwargs, kl_scale=1.0):
        batches = args[0]
        loss = surrogate = 0.0
        terms = {}
        for s in self.stream_set.streams:
            batch = batches[s.name]
            n = len(s.inputs)
            record = self.objective.evaluate(
                s.model, s.guide, batch.args, {**batch.kwargs, "num_data": n}, kl_scale=kl_scale
            )
            loss = loss + s.weight * record.loss
            surrogate = surrogate + s.weight * record.surrogate
            terms[f"{s.name}/loss"] = record.loss / n
            for key, value in record.terms.items():
                terms[f"{s.name}/{key}"] = value / n if key in record.extensive else value
        return ObjectiveRecord(
            loss=torch.as_tensor(loss),
            surrogate=torch.as_tensor(surrogate),
            terms=terms,
            num_data=float(self.stream_set.num_data),
            extensive=frozenset(),
        )
