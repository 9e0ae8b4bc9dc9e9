"""Callbacks of train and the TensorBoard / MLflow loggers: what a run logs is read back from the
trackers' own files (offline: event files; MLflow's local file store)."""

import math

import pytest
from helpers import binary_data, small_vae

from pyrovae.infer import Callback, train
from pyrovae.tracking import MLflowLogger, TensorBoardLogger, logger_from_target


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, config):
        self.events.append(("begin", config))

    def on_step_end(self, step, record):
        self.events.append(("step", step, record))

    def on_validation(self, step, metrics):
        self.events.append(("validation", step, metrics))

    def on_train_end(self, result):
        self.events.append(("end", result))


def _run(callbacks, steps=6):
    vae, x = small_vae(), binary_data(n=48)
    return train(
        vae.model,
        vae.guide,
        x,
        steps=steps,
        batch_size=16,
        validation=x[:8],
        validate_every=3,
        evaluate=lambda step: {"probe": float(step)},
        evaluate_every=2,
        callbacks=callbacks,
        progress=False,
        config={"model": {"z_dim": 3}},
    )


def test_callbacks_see_every_event_with_namespaced_numbers():
    recorder = Recorder()
    result = _run([recorder])
    kinds = [e[0] for e in recorder.events]
    assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("step") == 6
    assert [e[1] for e in recorder.events if e[0] == "validation"] == [3, 6]
    config = recorder.events[0][1]
    assert config["settings"]["batch_size"] == 16 and config["model"] == {"model": {"z_dim": 3}}
    assert config["options"]["steps"] == 6 and "validation" not in config["options"]
    steps = [e for e in recorder.events if e[0] == "step"]
    for (_, step, record), row in zip(steps, result.history, strict=True):
        assert step == row["step"]
        assert record["train/elbo"] == row["elbo"] and record["train/kl"] == row["kl"]
        assert ("eval/probe" in record) == ("probe" in row)
        assert ("valid/loss" in record) == ("val_loss" in row)
        assert not any(k.startswith("train/probe") or k == "train/val_loss" for k in record)
    assert recorder.events[-1][1] is result


def test_a_class_or_a_plain_object_is_refused_as_callback():
    with pytest.raises(ValueError, match="none of on_train_begin"):
        _run([Recorder])
    with pytest.raises(ValueError, match="none of on_train_begin"):
        _run([object()])


def test_tensorboard_logger_writes_what_event_files_read_back(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = _run([TensorBoardLogger(tmp_path / "tb")])
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/elbo", "train/kl", "valid/loss", "eval/probe"} <= set(tags["scalars"])
    elbo = events.Scalars("train/elbo")
    assert [e.step for e in elbo] == [row["step"] for row in result.history]
    for event, row in zip(elbo, result.history, strict=True):
        assert math.isclose(event.value, row["elbo"], rel_tol=1e-6)  # stored as float32
    assert [e.step for e in events.Scalars("valid/loss")] == [3, 6]
    assert tags["images"] == ["history"]  # the curves as a figure at the end


def test_mlflow_logger_writes_what_a_local_store_reads_back(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a local folder store, offline
    uri = (tmp_path / "mlruns").as_uri()
    logger = MLflowLogger(uri, experiment="tests")
    result = _run([logger])
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["settings/batch_size"] == "16"
    assert run.data.params["options/steps"] == "6"
    history = client.get_metric_history(logger.run_id, "train/elbo")
    assert sorted((m.step, m.value) for m in history) == [
        (row["step"], row["elbo"]) for row in result.history
    ]
    assert [m.step for m in client.get_metric_history(logger.run_id, "valid/loss")] == [3, 6]
    artifacts = [a.path for a in client.list_artifacts(logger.run_id)]
    assert "history.png" in artifacts


def test_log_targets_of_the_command_line(tmp_path):
    with pytest.raises(ValueError, match="KIND:WHERE"):
        logger_from_target("tensorboard")
    with pytest.raises(ValueError, match="tensorboard and mlflow"):
        logger_from_target("wandb:project")
    pytest.importorskip("tensorboard")
    assert isinstance(logger_from_target(f"tensorboard:{tmp_path}"), TensorBoardLogger)


def test_pyrovae_train_logs_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    import numpy as np
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from pyrovae.cli import main

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", train=(rng.random((64, 784)) > 0.7).astype(np.float32))
    argv = ["train", "--dataset", "binarized-mnist", "--data", str(tmp_path / "tiny.npz")]
    argv += ["--z-dim", "2", "--hidden", "16", "--steps", "4", "--batch-size", "32"]
    argv += ["--log", f"tensorboard:{tmp_path / 'tb'}", "--out", str(tmp_path / "run")]
    assert main([*argv, "--no-progress"]) == 0
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]
    assert main([*argv[:-2], "--log", "wandb:x", "--out", str(tmp_path / "r2")]) == 2
    assert not (tmp_path / "r2").exists()  # refused before any work
