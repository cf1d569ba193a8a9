"""Trackers: a real tiny training seen by TensorBoard (and W&B offline, MLflow's file store when
installed); a tracker that fails never fails the training."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest
from setups import tiny_config

from gender_desktop.cli import main
from gender_desktop.ml.events import LogLine, RunStarted
from gender_desktop.ml.trackers import TENSORBOARD_DIR, with_trackers
from gender_desktop.ml.trainer import Trainer
from gender_desktop.runs.folder import RunFolder
from gender_desktop.runs.meta import read_status

TINY = [
    *("--backbone", "resnet18", "--input-size", "32", "--weights", "random", "--hidden", "16"),
    *("--optimizer", "adam", "--batch-size", "16", "--workers", "1", "--no-flip"),
]


def train(data: Path, root: Path, names: list[str] | None, callback=None):
    run = RunFolder.create("tracked", root)
    summary = Trainer(tiny_config(data), run, with_trackers(callback, names)).run()
    return run, summary


def accumulator(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / TENSORBOARD_DIR))
    events.Reload()
    return events


def scalars(folder: Path) -> dict[str, list]:
    events = accumulator(folder)
    return {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}


def hparams(folder: Path) -> dict:
    """The settings TensorBoard's HParams tab shows for the run."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = accumulator(folder).PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    values = start.session_start_info.hparams
    return {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in values.items()}


def test_tensorboard_reads_back_the_epochs_and_test_metrics(colour_data, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    run, summary = train(colour_data, tmp_path, None)  # the default: TensorBoard
    found = scalars(run.path)
    rows = run.read_metrics()
    assert [e.step for e in found["loss/val"]] == [1, 2]
    assert [e.value for e in found["loss/val"]] == pytest.approx([r["val_loss"] for r in rows])
    assert {"loss/train", "accuracy/train", "accuracy/val", "lr"} <= set(found)
    assert found["test/accuracy"][0].value == pytest.approx(summary["test"]["accuracy"])
    assert found["final/best_val_accuracy"][0].value == pytest.approx(summary["best_val_accuracy"])


def test_a_tracker_whose_library_raises_leaves_the_run_finished(colour_data, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    lines: list[str] = []

    def block_tensorboard(event) -> None:
        """A file where SummaryWriter wants its folder: its makedirs raises."""
        if isinstance(event, RunStarted):
            (Path(event.run_dir) / TENSORBOARD_DIR).write_text("not a folder")
        if isinstance(event, LogLine):
            lines.append(event.message)

    run, summary = train(colour_data, tmp_path, ["tensorboard"], block_tensorboard)
    assert summary["epochs"] == 2 and read_status(run.path).state == "finished"
    warnings = [line for line in lines if "TensorBoard tracking stopped" in line]
    assert len(warnings) == 1 and "training goes on" in warnings[0]
    assert warnings[0] in (run.path / "log.txt").read_text()


def test_track_wandb_without_wandb_is_a_clear_message(
    colour_data, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # what an absent package looks like
    args = ["train", "--data", str(colour_data), "--runs-dir", str(tmp_path / "runs"), *TINY]
    assert main([*args, "--track", "wandb"]) == 2
    err = capsys.readouterr().err
    assert "wandb package, which is not installed" in err and "pip install wandb" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert main([*args, "--track", "tensorbord"]) == 2
    assert "unknown tracker 'tensorbord'" in capsys.readouterr().err


def test_cli_no_track_and_track_tensorboard(colour_data, tmp_path, capsys) -> None:
    pytest.importorskip("tensorboard")
    args = ["train", "--data", str(colour_data), "--epochs", "1", "--json", *TINY]
    assert main([*args, "--runs-dir", str(tmp_path / "a"), "--no-track"]) == 0
    plain = Path(json.loads(capsys.readouterr().out)["run_dir"])
    assert not (plain / TENSORBOARD_DIR).exists()
    assert main([*args, "--runs-dir", str(tmp_path / "b"), "--track", "tensorboard"]) == 0
    tracked = Path(json.loads(capsys.readouterr().out)["run_dir"])
    assert len(scalars(tracked)["loss/val"]) == 1


def wandb_records(path: Path):
    """The records of an offline run's .wandb file (LevelDB's log format: 32 KiB blocks of
    chunks with a 7-byte header, after W&B's own 7-byte header), as wandb's protobufs."""
    from wandb.proto import wandb_internal_pb2

    data, pos, pending = path.read_bytes(), 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a header is padding
            pos += 32768 - pos % 32768
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def test_wandb_offline_run_holds_curves_and_summary(colour_data, tmp_path, monkeypatch) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run, summary = train(colour_data, tmp_path, ["wandb"])
    (log,) = (run.path / "wandb").glob("offline-run-*/*.wandb")
    history, final = [], {}
    for record in wandb_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append(
                {"/".join(i.nested_key) or i.key: i.value_json for i in record.history.item}
            )
        elif kind == "summary":
            final.update({u.key: json.loads(u.value_json) for u in record.summary.update if u.key})
    assert [float(h["loss/val"]) for h in history] == pytest.approx(
        [r["val_loss"] for r in run.read_metrics()]
    )
    assert final["test/accuracy"] == pytest.approx(summary["test"]["accuracy"])
    assert final["state"] == "finished"


def test_mlflow_store_holds_params_and_curves(colour_data, tmp_path, app_home) -> None:
    mlflow = pytest.importorskip("mlflow")
    run, summary = train(colour_data, tmp_path, ["mlflow"])
    store = f"sqlite:///{app_home / 'data' / 'mlflow.db'}"  # the default: in the app's data
    client = mlflow.MlflowClient(tracking_uri=store)
    (found,) = client.search_runs([client.get_experiment_by_name("gender-desktop").experiment_id])
    assert found.info.status == "FINISHED" and found.info.run_name == run.path.name
    assert found.data.params["model.backbone"] == "resnet18"
    history = client.get_metric_history(found.info.run_id, "loss_val")
    assert [m.step for m in history] == [1, 2]
    assert found.data.metrics["test_accuracy"] == pytest.approx(summary["test"]["accuracy"])
