"""The run pickers' list: newest first, only runs with a model, the latest evaluation's split
named with its accuracy, and re-read when a run's files change."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from gender_desktop.runs.catalog import list_runs
from gender_desktop.runs.folder import BEST, EVALUATION, METRIC_COLUMNS, RunFolder


def make_run(root: Path, name: str, val: float, model: bool = True) -> RunFolder:
    run = RunFolder(root / name)
    run.path.mkdir(parents=True)
    run.write_config({"settings": {"model": {"backbone": "resnet18"}, "data": "/data/x"}})
    row = dict.fromkeys(METRIC_COLUMNS, 0.0)
    run.write_metrics(
        [
            row | {"epoch": 1, "val_accuracy": val - 0.1, "val_loss": 0.5},
            row | {"epoch": 2, "val_accuracy": val, "val_loss": 0.4},  # the one best.pt holds
        ]
    )
    if model:  # shaped like a checkpoint (a zip archive): the picker checks no more
        with zipfile.ZipFile(run.path / BEST, "w") as archive:
            archive.writestr("best/data.pkl", b"weights")
    return run


def test_runs_are_listed_newest_first_with_their_numbers(tmp_path: Path) -> None:
    make_run(tmp_path, "20260101-100000-a", 0.9)
    make_run(tmp_path, "20260102-100000-b", 0.8)
    make_run(tmp_path, "20260103-100000-unfinished", 0.5, model=False)
    (tmp_path / "not-a-run").mkdir()
    runs = list_runs(tmp_path)
    assert [r.name for r in runs] == [
        "20260103-100000-unfinished",
        "20260102-100000-b",
        "20260101-100000-a",
    ]
    assert [r.has_model for r in runs] == [False, True, True]
    assert runs[1].title() == "20260102-100000-b · resnet18 · 2 epochs · val 80.0%"


def test_the_title_gives_the_val_accuracy_of_the_epoch_best_pt_holds(tmp_path: Path) -> None:
    """Not the highest of any epoch: a run reported 0.925 while best.pt held 0.892."""
    run = make_run(tmp_path, "20260101-100000-a", 0.9)
    row = dict.fromkeys(METRIC_COLUMNS, 0.0)
    run.write_metrics(
        [
            row | {"epoch": 1, "val_accuracy": 0.892, "val_loss": 0.30},
            row | {"epoch": 2, "val_accuracy": 0.925, "val_loss": 0.35},
        ]
    )
    assert list_runs(tmp_path)[0].title().endswith("val 89.2%")


def test_the_title_names_the_split_of_the_latest_evaluation(tmp_path: Path) -> None:
    run = make_run(tmp_path, "20260101-100000-a", 0.9)
    evaluation = {"split": "test", "metrics": {"accuracy": 0.875}}
    (run.path / EVALUATION).write_text(json.dumps(evaluation))
    assert list_runs(tmp_path)[0].title().endswith("val 90.0% · test 87.5%")
    evaluation.update(split="val", same_dataset_as_training=False)
    (run.path / EVALUATION).write_text(json.dumps(evaluation))  # changed: read again
    assert list_runs(tmp_path)[0].title().endswith("val (other data) 87.5%")
