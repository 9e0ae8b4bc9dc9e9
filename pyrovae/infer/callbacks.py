"""What a training run tells the outside while it runs: the callback protocol of
:func:`pyrovae.infer.train`.

A callback is any object with some of these methods (each optional; :class:`Callback` has them
all, doing nothing):

* ``on_train_begin(config)`` — once, before the first step: ``config`` holds the run's
  ``settings`` (objective, batch size, seed, learning rate, the data's content hash, ...), the
  model ``config`` given to ``train`` and the options (:class:`~pyrovae.infer.TrainOptions`
  fields that are plain values);
* ``on_step_end(step, record)`` — after every step: ``record`` maps namespaced keys to numbers:
  ``train/loss``, ``train/elbo``, ``train/kl``, ... (the history row's terms, nats per data
  point), ``eval/<key>`` for what ``evaluate`` returned, ``valid/loss`` on validation steps;
* ``on_validation(step, metrics)`` — after each validation: ``{"valid/loss": ...}``;
* ``on_train_end(result)`` — once, with the :class:`~pyrovae.infer.TrainResult` (also when the
  run stopped early; not when it diverged or was interrupted).

``step`` counts optimizer steps from 1. :mod:`pyrovae.tracking` has loggers for TensorBoard and
MLflow built on this protocol.
"""

EVENTS = ("on_train_begin", "on_step_end", "on_validation", "on_train_end")


class Callback:
    """A callback that does nothing; subclass it and override the events you need."""

    def on_train_begin(self, config):
        """Once, before the first step (see the module docstring for ``config``)."""

    def on_step_end(self, step, record):
        """After every optimizer step, with the namespaced numbers of that step."""

    def on_validation(self, step, metrics):
        """After each validation, with ``{"valid/loss": ...}``."""

    def on_train_end(self, result):
        """Once, with the :class:`~pyrovae.infer.TrainResult`."""


def check_callbacks(callbacks):
    """A tuple of callbacks; ``ValueError`` naming the protocol for an object with none of its
    methods (a class given instead of an instance, say)."""
    if callbacks is None:
        return ()
    if not isinstance(callbacks, (list, tuple)):
        callbacks = (callbacks,)
    for callback in callbacks:
        if isinstance(callback, type) or not any(hasattr(callback, e) for e in EVENTS):
            raise ValueError(
                f"callbacks: {callback!r} has none of {', '.join(EVENTS)}; give instances of "
                "pyrovae.infer.Callback subclasses (or of pyrovae.tracking loggers)"
            )
    return tuple(callbacks)


def notify(callbacks, event, *args):
    """Call ``event`` on every callback that has it, in order."""
    for callback in callbacks:
        method = getattr(callback, event, None)
        if method is not None:
            method(*args)


def namespaced(row, evaluated=()):
    """A history row as namespaced numbers: ``val_loss`` → ``valid/loss``, the keys ``evaluate``
    returned → ``eval/<key>``, the rest → ``train/<key>`` (``step`` left out)."""
    record = {}
    for key, value in row.items():
        if key == "step" or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if key == "val_loss":
            record["valid/loss"] = float(value)
        elif key in evaluated:
            record[f"eval/{key}"] = float(value)
        else:
            record[f"train/{key}"] = float(value)
    return record
