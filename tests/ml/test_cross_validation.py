"""Cross-validation of a configuration (ml/cross_validation.py and ``gender-desktop cv``): k
ordinary, tagged, evaluated runs and their mean ± std, checked against the run files by hand."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from setups import tiny_config

from gender_desktop.cli import main
from gender_desktop.ml.cross_validation import FoldEnded, cross_validate, summarize_runs
from gender_desktop.ml.events import Control, EpochEnd
from gender_desktop.ml.trainer import Trainer
from gender_desktop.runs import meta
from gender_desktop.runs.folder import RunFolder


def _by_hand(run_dir: str) -> dict[str, float]:
    """One fold's numbers read straight from its files."""
    folder = Path(run_dir)
    lines = (folder / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, map(float, line.split(",")), strict=True)) for line in lines[1:]]
    evaluation = json.loads((folder / "evaluation.json").read_text())
    best = min(rows, key=lambda r: r["val_loss"])
    return {
        "best_val_accuracy": max(r["val_accuracy"] for r in rows),
        "best_val_loss": best["val_loss"],
        "test_accuracy": evaluation["metrics"]["accuracy"],
        "test_f1": evaluation["metrics"]["f1"],
        "train_seconds": round(sum(r["seconds"] for r in rows), 3),  # kept to the ms
    }


def test_three_folds_leave_three_tagged_runs_and_their_mean_and_std(colour_data, tmp_path):
    runs = tmp_path / "runs"
    ended: list[FoldEnded] = []
    summary = cross_validate(
        tiny_config(colour_data, epochs=1),
        folds=3,
        runs_dir=runs,
        callback=lambda e: ended.append(e) if isinstance(e, FoldEnded) else None,
    )
    folders = sorted(p for p in runs.iterdir() if p.is_dir())
    assert len(folders) == 3 and summary.complete and summary.method == "stratified"
    tags = [meta.read_meta(p).cv for p in folders]
    assert sorted(t["fold"] for t in tags) == [0, 1, 2]
    assert {(t["group"], t["folds"], t["method"]) for t in tags} == {
        (summary.group, 3, "stratified")
    }
    configs = [json.loads((Path(d) / "config.json").read_text()) for d in summary.runs]
    assert [c["settings"]["fold"] for c in configs] == [f"{i}/3:stratified@0" for i in range(3)]
    sizes = [c["dataset"]["split_sizes"] for c in configs]
    assert len({s["test"] for s in sizes}) == 1 and sizes[0]["test"] == 8  # test never moves
    assert sum(s["val"] for s in sizes) == 72 and all(s["train"] + s["val"] == 72 for s in sizes)
    assert [e.fold for e in ended] == [0, 1, 2] and {e.state for e in ended} == {"finished"}
    hand = [_by_hand(d) for d in summary.runs]
    for key in hand[0]:
        values = [h[key] for h in hand]
        assert summary.mean[key] == pytest.approx(statistics.fmean(values), abs=1e-6), key
        assert summary.std[key] == pytest.approx(statistics.stdev(values), abs=1e-6), key
    saved = json.loads(Path(summary.file).read_text())
    assert saved["mean"] == summary.mean and saved["runs"] == summary.runs
    again = summarize_runs(list(reversed(folders)))  # from the folders alone, in any order
    assert again.mean == summary.mean and again.runs == summary.runs


def test_a_stopped_fold_is_kept_tagged_and_resumes_like_any_run(colour_data, tmp_path):
    control = Control()

    def stop_after_epoch_1(event) -> None:
        if isinstance(event, EpochEnd) and event.metrics["epoch"] == 1:
            control.stop.set()

    summary = cross_validate(
        tiny_config(colour_data, epochs=2),
        folds=2,
        runs_dir=tmp_path / "runs",
        callback=stop_after_epoch_1,
        control=control,
    )
    assert not summary.complete and len(summary.runs) == 1  # fold 1 never started
    folder = RunFolder(Path(summary.runs[0]))
    assert meta.read_status(folder.path).state == "stopped"
    assert meta.read_meta(folder.path).cv["fold"] == 0
    config = folder.train_config()
    assert config.fold == "0/2:stratified@0"
    resumed = Trainer(config, folder).run(resume=True)
    assert resumed["state"] == "finished" and resumed["epochs"] == 2
    assert meta.read_meta(folder.path).cv["group"] == summary.group
    assert summarize_runs([folder.path]).per_fold[0]["test_accuracy"] is not None


def test_the_cv_command_prints_each_fold_and_the_table(colour_data, tmp_path, capsys):
    tiny = "--backbone resnet18 --input-size 32 --weights random --hidden 16 --optimizer adam"
    args = [*tiny.split(), "--epochs", "1", "--batch-size", "16", "--workers", "1", "--no-flip"]
    runs = tmp_path / "runs"
    code = main(["cv", "--data", str(colour_data), "--folds", "2", "--runs-dir", str(runs), *args])
    out = capsys.readouterr().out
    assert code == 0
    assert "fold 1/2 finished: best val accuracy" in out and "fold 2/2 finished" in out
    assert "best val accuracy" in out and " ± " in out and "2 of 2 folds (stratified)" in out
    code = main(
        [
            "cv",
            "--data",
            str(colour_data),
            "--folds",
            "2",
            "--method",
            "identity",
            "--runs-dir",
            str(runs),
            *args,
        ]
    )
    assert code == 2
    assert "identity_CelebA.txt" in capsys.readouterr().err
