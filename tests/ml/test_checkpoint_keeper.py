"""Which epoch a run keeps, and what its folder says about how the run ended."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from setups import tiny_config

from gender_desktop.ml.checkpoints import CheckpointKeeper
from gender_desktop.ml.events import EpochEnd, RunEnded, RunStarted
from gender_desktop.ml.inputs import SharedInputs
from gender_desktop.ml.models import ModelConfig
from gender_desktop.ml.trainer import Control, Trainer, TrainingFailed
from gender_desktop.runs import meta
from gender_desktop.runs.folder import RunFolder


def rows(*pairs: tuple[float, float]) -> list[dict[str, float]]:
    return [
        {"epoch": e, "val_loss": loss, "val_accuracy": acc}
        for e, (loss, acc) in enumerate(pairs, 1)
    ]


@pytest.mark.parametrize(
    "metric, kept",
    [
        ("val_loss", 2),  # the lowest loss, although epoch 3 is more accurate
        ("val_accuracy", 3),  # the highest accuracy; epoch 4 ties it with a higher loss
    ],
)
def test_the_best_epoch_follows_the_chosen_metric(metric: str, kept: int) -> None:
    keeper = CheckpointKeeper(tiny_config(Path("x"), best_metric=metric), None)
    history = rows((0.50, 0.80), (0.30, 0.85), (0.35, 0.92), (0.40, 0.92))
    decisions = [
        keeper.end_epoch(r, history[: i + 1], {"model": {}}) for i, r in enumerate(history)
    ]
    assert keeper.best_epoch == kept == keeper.kept(history)["epoch"]
    assert decisions[kept - 1] and not any(decisions[kept:])


def test_fitting_on_train_and_val_keeps_the_last_epoch_without_early_stopping() -> None:
    keeper = CheckpointKeeper(tiny_config(Path("x"), fit_on="train+val", patience=1), None)
    history = rows((0.3, 0.9), (0.5, 0.7), (0.6, 0.6))
    for i, r in enumerate(history):
        assert keeper.end_epoch(r, history[: i + 1], {"model": {}})
    assert not keeper.should_stop and keeper.kept(history)["epoch"] == 3


def test_the_reported_best_val_accuracy_is_that_of_the_weights_best_pt_holds(
    colour_data: Path, tmp_path: Path
) -> None:
    run = RunFolder.create("acc", tmp_path / "runs")
    summary = Trainer(tiny_config(colour_data, epochs=3, best_metric="val_accuracy"), run=run).run()
    best = torch.load(run.path / "best.pt", weights_only=True)
    history = {int(r["epoch"]): r for r in run.read_metrics()}
    assert summary["best_epoch"] == best["epoch"]
    assert summary["best_val_accuracy"] == history[best["epoch"]]["val_accuracy"]
    assert summary["best_val_accuracy"] == max(r["val_accuracy"] for r in history.values())


def test_a_run_folder_says_how_the_run_ended_and_trackers_see_it_begin_and_end(
    colour_data: Path, tmp_path: Path
) -> None:
    events: list = []
    run = RunFolder.create("ok", tmp_path / "runs")
    Trainer(tiny_config(colour_data, epochs=1), run=run, callback=events.append).run()
    assert meta.read_status(run.path).state == "finished"
    started = [e for e in events if isinstance(e, RunStarted)]
    ended = [e for e in events if isinstance(e, RunEnded)]
    assert started[0].run_dir == str(run.path) and started[0].config["settings"]["epochs"] == 1
    assert ended[-1].state == "finished" and ended[-1].summary["epochs"] == 1

    control = Control()
    stopped = RunFolder.create("stopped", tmp_path / "runs")

    def stop_after_first_epoch(event) -> None:
        if isinstance(event, EpochEnd):
            control.stop.set()

    Trainer(tiny_config(colour_data, epochs=3), stopped, stop_after_first_epoch, control).run()
    assert meta.read_status(stopped.path).state == "stopped"


def test_a_pruned_run_says_pruned_and_a_failed_one_says_why(colour_data, tmp_path) -> None:
    control = Control()
    pruned = RunFolder.create("pruned", tmp_path / "runs")

    def prune(event) -> None:
        if isinstance(event, EpochEnd):
            control.prune()

    summary = Trainer(tiny_config(colour_data, epochs=3), pruned, prune, control).run()
    assert summary["state"] == "pruned" and meta.read_status(pruned.path).state == "pruned"

    failed = RunFolder.create("failed", tmp_path / "runs")
    calls = {"n": 0}

    def explode_in_epoch_two(event) -> None:  # a failure after an epoch was saved
        if isinstance(event, EpochEnd):
            calls["n"] += 1
            if calls["n"] == 2:
                raise TrainingFailed("the disk went away")

    with pytest.raises(TrainingFailed):
        Trainer(tiny_config(colour_data, epochs=3), failed, explode_in_epoch_two).run()
    status = meta.read_status(failed.path)
    assert status.state == "failed" and "the disk went away" in status.message


def test_a_run_whose_process_died_reads_as_interrupted(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    meta.write_status(folder, "running")
    raw = json.loads((folder / meta.STATUS).read_text())
    raw["pid"] = 2**22 + 12345  # no such process
    (folder / meta.STATUS).write_text(json.dumps(raw))
    assert meta.read_status(folder).state == "interrupted"
    (folder / meta.STATUS).write_text("{not json")
    assert meta.read_status(folder).state == ""  # damaged: unknown, never an error


def test_head_only_runs_in_one_process_share_one_backbone_pass(colour_data: Path) -> None:
    shared = SharedInputs()
    model = ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="head")
    for lr, batch in ((1e-3, 16), (1e-4, 16), (1e-3, 8)):
        config = tiny_config(colour_data, model=model, lr=lr, batch_size=batch, epochs=1)
        Trainer(config, shared=shared).run()
    assert shared.feature_passes == 1
    other = ModelConfig(
        backbone="resnet18", input_size=32, hidden=(16,), scope="head", pooling="max"
    )
    Trainer(tiny_config(colour_data, model=other, epochs=1), shared=shared).run()
    assert shared.feature_passes == 2  # another pooling: other features


def test_a_head_only_run_evaluates_its_test_split_from_the_cached_features(
    colour_data: Path, tmp_path: Path, monkeypatch
) -> None:
    """The backbone runs once for train, val and test; the test scores equal a full forward
    pass of best.pt's model."""
    import numpy as np

    from gender_desktop.ml import evaluation
    from gender_desktop.ml.results import read_predictions
    from gender_desktop.ml.runmodel import load_run_model

    forwards: list[int] = []
    real = evaluation.predict_rows
    monkeypatch.setattr(
        evaluation, "predict_rows", lambda *a, **k: forwards.append(1) or real(*a, **k)
    )
    model = ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="head")
    run = RunFolder.create("head", tmp_path / "runs")
    summary = Trainer(tiny_config(colour_data, model=model, epochs=2), run=run).run()
    assert summary["test"]["n"] == 8 and forwards == []
    cached = read_predictions(run).sort_values("image_id")
    loaded = load_run_model(run.path)
    monkeypatch.setattr(evaluation, "predict_rows", real)
    evaluation.evaluate_run(run.path, device="cpu")
    full = read_predictions(run).sort_values("image_id")
    assert loaded.config.model.scope == "head"
    assert np.allclose(cached["p_male"].to_numpy(), full["p_male"].to_numpy(), atol=1e-5)


def test_a_frozen_trunks_best_epoch_is_linked_not_written_twice(colour_data, tmp_path) -> None:
    """Head only: an improving epoch's best.pt is last.pt's file (a hard link), and a later
    worse epoch's last.pt leaves it as it was."""
    import os

    model = ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="head")
    run = RunFolder.create("link", tmp_path / "runs")
    events: list = []
    Trainer(tiny_config(colour_data, model=model, epochs=3), run, events.append).run()
    best_epochs = [e.metrics["epoch"] for e in events if isinstance(e, EpochEnd) and e.best]
    best = torch.load(run.path / "best.pt", weights_only=True)
    assert best["epoch"] == best_epochs[-1]
    same = os.path.samefile(run.path / "best.pt", run.path / "last.pt")
    assert same == (best_epochs[-1] == 3)


def test_a_kill_between_last_pt_and_its_best_link_is_mended_on_resume(
    colour_data: Path, tmp_path: Path
) -> None:
    """Simulated: last.pt says epoch 2 is the best, best.pt still holds epoch 1."""
    import shutil

    model = ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="head")
    run = RunFolder.create("cut", tmp_path / "runs")
    control = Control()
    saved: dict[int, Path] = {}

    def keep_a_copy(event) -> None:
        if isinstance(event, EpochEnd):
            epoch = int(event.metrics["epoch"])
            saved[epoch] = tmp_path / f"last-{epoch}.pt"
            shutil.copy(run.path / "last.pt", saved[epoch])
            if epoch == 2:
                control.stop.set()

    config = tiny_config(colour_data, model=model, epochs=3, lr=1e-2)
    Trainer(config, run, keep_a_copy, control).run()
    state = torch.load(run.path / "last.pt", weights_only=True)
    if state["best_epoch"] != 2:
        pytest.skip("epoch 2 was not the best on this machine")
    (run.path / "best.pt").unlink()
    shutil.copy(saved[1], run.path / "best.pt")  # what a kill before the link leaves
    resumed = Trainer(config, run=RunFolder(run.path))
    resumed.run(resume=True)
    best = torch.load(run.path / "best.pt", weights_only=True)
    assert best["epoch"] in (2, 3) and best["epoch"] == resumed.keeper.best_epoch
