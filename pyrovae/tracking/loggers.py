"""TensorBoard and MLflow loggers (callbacks of :func:`pyrovae.infer.train`)."""

import json

from ..infer.callbacks import Callback


def _require(module, extra, what):
    """Import ``module`` or raise ``ImportError`` naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{what} needs the {module.split('.')[0]} package, which is not installed: "
            f'pip install -e ".[{extra}]" (or pip install {extra})'
        ) from err


def flat_params(config, prefix=""):
    """A nested configuration as flat ``{"settings/lr": 0.001, ...}`` of numbers, strings and
    booleans (anything else as its JSON text): what trackers take as parameters."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_params(value, f"{name}/"))
        elif value is None or isinstance(value, (int, float, str, bool)):
            flat[name] = value if value is not None else "None"
        else:
            flat[name] = json.dumps(value, default=str)
    return flat


def _history_figure(history):
    from ..plotting import plot_history

    return plot_history({"run": history})


class TensorBoardLogger(Callback):
    """Write a run to TensorBoard event files in ``log_dir``: every step's numbers as scalars,
    the configuration as text (and as hyper-parameters), the training curves as a figure at the
    end. Read them with ``tensorboard --logdir log_dir``."""

    def __init__(self, log_dir):
        self.tensorboard = _require("torch.utils.tensorboard", "tensorboard", "TensorBoardLogger")
        self.log_dir = str(log_dir)
        self.writer = None  # created when training starts: nothing is written before

    def on_train_begin(self, config):
        self.writer = self.tensorboard.SummaryWriter(log_dir=self.log_dir)
        params = flat_params(config)
        text = "\n".join(f"    {k} = {v}" for k, v in sorted(params.items()))
        self.writer.add_text("config", text, 0)

    def on_step_end(self, step, record):
        for key, value in record.items():
            self.writer.add_scalar(key, value, step)

    def on_train_end(self, result):
        if result.history:
            self.writer.add_figure("history", _history_figure(result.history), result.steps)
        self.writer.flush()
        self.writer.close()


class MLflowLogger(Callback):
    """Log a run to MLflow: the configuration as parameters, every step's numbers as metrics
    (``train/elbo`` ... at their step), the training curves as a figure at the end.

    :param tracking_uri: where MLflow stores runs: a tracking server's address,
        ``sqlite:///mlflow.db`` (a local database), or a ``file:`` folder (newer MLflow releases
        accept it only with ``MLFLOW_ALLOW_FILE_STORE=true``); default: MLflow's own
        (``$MLFLOW_TRACKING_URI``).
    :param experiment: the MLflow experiment's name.
    :param run_name: the run's name (default: MLflow's).
    :param log_every: log step metrics every this many steps (the last step always).
    """

    def __init__(
        self, tracking_uri="file:./mlruns", experiment="pyrovae", run_name=None, log_every=1
    ):
        self.mlflow = _require("mlflow", "mlflow", "MLflowLogger")
        self.tracking_uri, self.experiment, self.run_name = tracking_uri, experiment, run_name
        self.log_every = int(log_every)
        self.run_id = None

    def on_train_begin(self, config):
        if self.tracking_uri is not None:
            self.mlflow.set_tracking_uri(self.tracking_uri)
        self.mlflow.set_experiment(self.experiment)
        run = self.mlflow.start_run(run_name=self.run_name)
        self.run_id = run.info.run_id
        params = {k: str(v)[:500] for k, v in flat_params(config).items()}  # MLflow's limit
        self.mlflow.log_params(params)

    def on_step_end(self, step, record):
        if step % self.log_every == 0:
            self.mlflow.log_metrics(dict(record), step=step)

    def on_train_end(self, result):
        if result.history:
            self.mlflow.log_figure(_history_figure(result.history), "history.png")
        self.mlflow.end_run()


def logger_from_target(target):
    """A logger from the command line's ``--log KIND:WHERE``: ``tensorboard:DIR`` or
    ``mlflow:URI`` (``mlflow:sqlite:///mlflow.db``, ``mlflow:http://host:5000``)."""
    kind, sep, where = str(target).partition(":")
    if not sep or not where:
        raise ValueError(
            f"--log {target!r}: give KIND:WHERE, e.g. tensorboard:runs/tb or "
            "mlflow:sqlite:///mlflow.db"
        )
    if kind == "tensorboard":
        return TensorBoardLogger(where)
    if kind == "mlflow":
        return MLflowLogger(where)
    raise ValueError(f"--log {target!r}: the trackers are tensorboard and mlflow")
