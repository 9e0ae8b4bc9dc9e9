"""Held-out evaluation during training, and data given as a ``Dataset`` / ``DataLoader``.

``val_loss`` is the negative of the bound the objective optimizes, in nats per data point: the
negative ELBO for EvidenceLowerBound / BetaVAE / InfoVAE (the plain ELBO: a β, free bits or a KL
warm-up weight change the training loss, not this yardstick), the negative IWAE bound for IWAE,
−log p̂(x) for LiBI, and the loss itself for any other ``pyro.infer.ELBO``. It is computed
without gradients, in batches, under a fixed seed of its own (common random numbers: epochs are
compared on the same noise, and the training run's random stream is left untouched).
"""

import warnings

import torch

from ..checks import check_inputs
from ..models.contract import data_already_validated
from ..models.inputs import Inputs, as_inputs
from .stepper import evaluate_objective

# the bound a record holds, in order of preference (IWAE's before its ELBO)
_BOUNDS = ("iwae_bound", "log_marginal", "elbo")


def as_tensor_data(data, what="validation"):
    """A tensor (N, ...) from a tensor, a map-style ``Dataset`` (items: tensors, or tuples whose
    first element is the data point, e.g. (image, label)) or a ``DataLoader`` over one: held-out
    data are stacked once into memory (training data are read batch by batch instead:
    :mod:`pyrovae.infer.streamed`).
    Several inputs (a tuple or dict of tensors, :class:`~pyrovae.models.inputs.Inputs`) are
    returned as they are."""
    if isinstance(data, (tuple, dict, Inputs)):
        return data
    if isinstance(data, torch.utils.data.DataLoader):
        warnings.warn(
            f"{what}: the DataLoader's own batching, sampler and workers are not used: its data "
            "set is stacked once and evaluated in batches of validation_batch_size (pass the "
            "Dataset to silence this)",
            UserWarning,
            stacklevel=3,
        )
        data = data.dataset
    if not isinstance(data, torch.utils.data.Dataset):
        return data  # a tensor, or something check_data explains
    if isinstance(data, torch.utils.data.IterableDataset):
        raise ValueError(
            f"{what}: give a tensor (N, ...) or a map-style torch.utils.data.Dataset; an "
            f"iterable data set ({type(data).__name__}) has no length to draw minibatches from"
        )
    if isinstance(data, torch.utils.data.TensorDataset):
        return data.tensors[0]
    items = [data[i] for i in range(len(data))]
    items = [item[0] if isinstance(item, (tuple, list)) else item for item in items]
    if not items or not all(torch.is_tensor(item) for item in items):
        raise ValueError(
            f"{what}: the data set's items must be tensors (or tuples starting with one); "
            "convert them with a transform, e.g. torchvision.transforms.ToTensor()"
        )
    return torch.stack(items)


def check_validation(x_val, train_inputs):
    """The held-out data as :class:`~pyrovae.models.inputs.Inputs` of the training data's form,
    point shapes, dtypes and device."""
    val = as_inputs(as_tensor_data(x_val, "validation"))
    check_inputs(val, "validation")
    train_tensors, val_tensors = train_inputs.tensors(), val.tensors()
    if list(train_tensors) != list(val_tensors):
        raise ValueError(
            f"validation data must have the training data's form: inputs {list(val_tensors)} "
            f"against {list(train_tensors)}"
        )
    for label, t in train_tensors.items():
        v = val_tensors[label]
        if v.shape[1:] != t.shape[1:]:
            where = "" if train_inputs.single else f" (input {label})"
            raise ValueError(
                f"validation points have shape {tuple(v.shape[1:])} but training points "
                f"{tuple(t.shape[1:])}{where}; give held-out data of the same shape (N_val, "
                f"{', '.join(map(str, t.shape[1:]))})"
            )
    dtype = train_inputs.primary.dtype
    return val.to(device=train_inputs.device, dtype=dtype)


def _bound(record):
    for key in _BOUNDS:
        if key in record.terms:
            return torch.as_tensor(record.terms[key]).detach()
    return -torch.as_tensor(record.loss).detach()


def validation_loss(objective, model, guide, x_val, batch_size, seed) -> float:
    """Negative bound per data point on ``x_val`` (a tensor or
    :class:`~pyrovae.models.inputs.Inputs`; see the module docstring), in batches of at most
    ``batch_size``, under ``seed``."""
    x_val = as_inputs(x_val)
    n = x_val.num_points
    chunks = x_val.split(max(-(-n // batch_size), 1))  # near-equal batches
    devices = [x_val.device] if x_val.device.type == "cuda" else []
    total = torch.zeros((), dtype=torch.float64, device=x_val.device)
    with torch.no_grad(), torch.random.fork_rng(devices=devices), data_already_validated():
        torch.manual_seed(seed)
        for xb in chunks:
            # num_data = B: the data plate's scale is 1, so the bound is the batch's sum
            record = evaluate_objective(objective, model, guide, xb, xb.num_points, backward=False)
            total = total + _bound(record).double()
    return -total.item() / n
