"""A training recipe: every option of :func:`pyrovae.infer.train` in one object.

``train(model, guide, x, objective, steps=1000, lr=1e-3)`` and
``train(model, guide, x, objective, options=TrainOptions(steps=1000, lr=1e-3))`` are the same
run. A recipe can be kept, shared between runs and varied with keywords
(``train(..., options=recipe, seed=3)`` overrides one field). Each option is checked when the
recipe is made, so a misspelt or impossible value fails before any data are touched; the options
that depend on the data (``steps`` against ``epochs``, ``batch_size`` against N) are settled by
:meth:`TrainOptions.total_steps` when training starts.
"""

import dataclasses
import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..checks import check_count, check_weight
from .callbacks import check_callbacks
from .schedules import check_scheduler_interval

RESUME_CHOICES = (False, True, "other-data")


@dataclass
class TrainOptions:
    """The options of one training run, by group. Field by field:

    **How long**

    :param steps: number of optimizer steps; or ``epochs`` (passes over the data set). Exactly
        one of the two.
    :param batch_size: minibatch size B (cut to N when larger); the data plate scales by N / B.
    :param time_limit: minutes of training steps (set-up not counted) after which the run stops
        at a step boundary, saving its checkpoint; the result says ``out_of_time``, and the same
        call with ``resume=True`` continues where it stopped.

    **Data read batch by batch** (a ``Dataset``, ``IterableDataset`` or ``DataLoader``:
    :mod:`pyrovae.infer.streamed`)

    :param num_data: N, for an ``IterableDataset`` without a length.
    :param transform: ``transform(batch) -> batch`` applied to every minibatch (tensor data
        too), e.g. :class:`pyrovae.data.Binarize` for stochastic binarization.
    :param num_workers: worker processes reading a data set's items (default: a DataLoader's,
        else 0).
    :param pin_memory: page-locked batches for non-blocking copies to CUDA (default: on when
        training on CUDA).

    **Optimizer**

    :param lr: Adam's learning rate.
    :param optim_args: further ``torch.optim.Adam`` arguments (e.g. ``betas``). Adam is fused
        (``fused=True``: one kernel per parameter) unless ``fused`` or ``foreach`` is given.
    :param scheduler: ``scheduler(optimizer) -> torch.optim.lr_scheduler`` scheduler, stepped once
        per epoch (``scheduler_interval="step"``: per step; ``ReduceLROnPlateau``: with each
        ``val_loss``); saved in and restored from the checkpoint. ``lr`` is in every row.
    :param kl_warmup: the KL weight rises linearly from 0 to the objective's own over this many
        steps (:mod:`pyrovae.infer.schedules`); recorded as ``kl_weight``.

    **Model selection** (held-out data)

    :param validation: held-out data (same point shape as the training data): every
        ``validate_every`` steps (default: once per epoch) and after the last, ``val_loss`` -- the
        negative ELBO (the negative IWAE bound for IWAE) in nats per data point, evaluated without
        gradients in batches of ``validation_batch_size`` (:mod:`pyrovae.infer.validation`) --
        joins that step's history row.
    :param keep_best: (default ``True`` with ``validation``) end with the parameters of the lowest
        ``val_loss``; with ``checkpoint`` they are also written to ``<checkpoint>.best.pt``.
    :param patience: stop after this many validations without a lower ``val_loss``.

    **Monitoring**

    :param evaluate: optional ``evaluate(step) -> dict`` called (under ``torch.no_grad``) after
        every ``evaluate_every`` steps and after the last; its numbers join that step's history
        row (e.g. MMD(q(z), p(z)) on held-out data against iteration).
    :param progress: show a progress bar.
    :param history_path: where to write the history as JSON (also written next to a checkpoint).
    :param callbacks: objects told of the run's events (``on_train_begin``, ``on_step_end``,
        ``on_validation``, ``on_train_end``: :mod:`pyrovae.infer.callbacks`), e.g. the loggers
        of :mod:`pyrovae.tracking`.

    **Checkpoints**

    :param checkpoint: path of a checkpoint written atomically every ``checkpoint_every`` steps
        and at the end; with ``resume=True`` training continues from it when it exists, on the
        same data only (content hash); ``resume="other-data"`` continues on other data on
        purpose (fine-tuning), with a warning, the earlier hashes kept in the checkpoint.
    :param config: a JSON-able description of the model stored in the checkpoint; a resume with
        a different ``config["model"]`` is refused.

    **The run**

    :param device: move data (and the modules owning ``model`` / ``guide``) there; default: the
        data's device.
    :param seed: seeds Pyro / torch and the minibatch order.
    :param clear_param_store: clear Pyro's global param store first (a stale store silently
        trains old weights; on resume the checkpoint then provides every value).
    :param plate_name: the name of the data plate, when it cannot be found (two plates of the
        minibatch's size); by default the plate over the minibatch's points is found, sized or
        sizeless, whatever its name (:func:`pyrovae.traces.adapt`).
    """

    # how long
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 128
    time_limit: float | None = None
    # data read batch by batch
    num_data: int | None = None
    transform: Callable | None = None
    num_workers: int | None = None
    pin_memory: bool | None = None
    # optimizer
    lr: float = 1e-3
    optim_args: dict | None = None
    scheduler: Callable | None = None
    scheduler_interval: str = "epoch"
    kl_warmup: int = 0
    # model selection
    validation: Any = None
    validate_every: int | None = None
    validation_batch_size: int = 1000
    keep_best: bool | None = None
    patience: int | None = None
    # monitoring
    evaluate: Callable | None = None
    evaluate_every: int = 100
    progress: bool = True
    history_path: str | None = None
    callbacks: tuple = ()
    # checkpoints
    checkpoint: str | None = None
    checkpoint_every: int | None = None
    resume: bool | str = False
    config: dict | None = field(default=None, repr=False)
    # the run
    device: Any = None
    seed: int = 0
    clear_param_store: bool = True
    plate_name: str | None = None

    def __post_init__(self):
        if self.resume not in RESUME_CHOICES:
            raise ValueError(
                "resume must be False, True or 'other-data' (continue on other data on "
                f"purpose), got {self.resume!r}"
            )
        if self.steps is not None and self.epochs is not None:
            raise ValueError("give exactly one of steps= or epochs=, not both")
        if self.steps is not None:
            self.steps = check_count("steps", self.steps, minimum=0)
        if self.epochs is not None:
            self.epochs = check_count("epochs", self.epochs, minimum=0)
        self.batch_size = check_count("batch_size", self.batch_size)
        if self.time_limit is not None:
            self.time_limit = check_weight("time_limit (minutes)", self.time_limit, strict=True)
        if self.num_data is not None:
            self.num_data = check_count("num_data", self.num_data)
        if self.num_workers is not None:
            self.num_workers = check_count("num_workers", self.num_workers, minimum=0)
        if self.transform is not None and not callable(self.transform):
            raise ValueError("transform must be a callable transform(batch) -> batch")
        self.lr = check_weight("lr", self.lr, strict=True)
        if self.checkpoint_every is not None:
            self.checkpoint_every = check_count("checkpoint_every", self.checkpoint_every)
        if self.checkpoint is not None and os.path.isdir(self.checkpoint):
            raise ValueError(
                f"checkpoint={os.fspath(self.checkpoint)!r} is a folder; give a file path inside "
                f"it, e.g. {os.path.join(os.fspath(self.checkpoint), 'checkpoint.pt')}"
            )
        if self.evaluate is not None and not callable(self.evaluate):
            raise ValueError("evaluate must be a callable evaluate(step) -> dict")
        self.evaluate_every = check_count("evaluate_every", self.evaluate_every)
        self.validation_batch_size = check_count(
            "validation_batch_size", self.validation_batch_size
        )
        self.scheduler_interval = check_scheduler_interval(self.scheduler_interval)
        self.callbacks = check_callbacks(self.callbacks)
        self._check_selection()

    def _check_selection(self):
        """keep_best / patience / validate_every select on the validation loss."""
        if self.validation is None:
            for name in ("keep_best", "patience", "validate_every"):
                if getattr(self, name):
                    raise ValueError(
                        f"{name} selects on the validation loss; give validation=x_val (held-out "
                        "data, e.g. binarized MNIST's 'valid' split)"
                    )
        if self.patience is not None:
            self.patience = check_count("patience (validations without improvement)", self.patience)
        if self.validate_every is not None:  # 0 once meant "once per epoch" silently
            self.validate_every = check_count("validate_every", self.validate_every)

    @property
    def keeps_best(self) -> bool:
        """Whether the run ends with the best validation parameters (``keep_best`` defaults to
        ``True`` when there is validation data)."""
        return self.validation is not None and self.keep_best is not False

    @classmethod
    def build(cls, options=None, **keywords) -> "TrainOptions":
        """``options`` (a :class:`TrainOptions`, or ``None`` for the defaults) with ``keywords``
        replacing its fields; an unknown keyword is refused with the closest option named."""
        if options is not None and not isinstance(options, cls):
            raise TypeError(
                f"options must be a pyrovae.infer.TrainOptions, got {type(options).__name__}; "
                "build one with TrainOptions(steps=..., lr=...)"
            )
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in keywords if k not in names]
        if unknown:
            close = difflib.get_close_matches(unknown[0], names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"train() got an unexpected option {unknown[0]!r}{hint}; the options are the "
                f"fields of pyrovae.infer.TrainOptions: {', '.join(names)}"
            )
        if options is None:
            return cls(**keywords)
        for given, other in (("steps", "epochs"), ("epochs", "steps")):
            if given in keywords and other not in keywords:
                keywords[other] = None  # a length given here replaces the recipe's
        return dataclasses.replace(options, **keywords) if keywords else options

    def plain_values(self) -> dict:
        """The options that are plain numbers, strings or booleans (what a tracker logs as
        parameters; data, callables and callbacks left out)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), (int, float, str, bool))
        }

    def total_steps(self, per_epoch: int) -> int:
        """The run's length in optimizer steps (``epochs`` × the batches of an epoch)."""
        if self.steps is None and self.epochs is None:
            raise ValueError("give exactly one of steps= or epochs= (how long to train)")
        return self.steps if self.steps is not None else self.epochs * per_epoch
