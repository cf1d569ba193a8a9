"""CSV and Markdown reports of two real runs: the notebooks' table with each run's own numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gender_desktop import csvsafe
from gender_desktop.errors import UserError
from gender_desktop.ml.significance import wilson_interval
from gender_desktop.reports import sweep_runs, write_report
from gender_desktop.reports.tables import CSV_COLUMNS
from gender_desktop.runs.compare import compare
from gender_desktop.runs.folder import RunFolder
from gender_desktop.runs.meta import update_meta

NOTEBOOK = ["Configuration", "Accuracy", "Precision", "Recall", "F1", "Training time (s)"]


def evaluation(run: Path) -> dict:
    return json.loads((run / "evaluation.json").read_text())


def test_csv_holds_each_runs_evaluation(two_runs: list[Path], tmp_path: Path) -> None:
    out = write_report(two_runs, tmp_path / "study.csv")
    table = csvsafe.read_csv(out, text=("Configuration", "Run", "Folder", "Epochs"))
    assert list(table.columns)[:6] == NOTEBOOK and list(table.columns) == list(CSV_COLUMNS)
    assert list(table["Configuration"]) == ["lr=0.001", "lr=0.01"]
    for (_, row), run in zip(table.iterrows(), two_runs, strict=True):
        saved = evaluation(run)
        metrics = saved["metrics"]
        for column, key in (("Accuracy", "accuracy"), ("Precision", "precision"), ("F1", "f1")):
            assert row[column] == pytest.approx(metrics[key])
        assert row["Recall"] == pytest.approx(metrics["recall"])
        assert row["AUC"] == pytest.approx(saved["roc"]["auc"])
        low, high = wilson_interval(round(metrics["accuracy"] * metrics["n"]), metrics["n"])
        assert (row["Accuracy 95% CI low"], row["Accuracy 95% CI high"]) == pytest.approx(
            (low, high)
        )
        history = RunFolder(run).read_metrics()
        best = min(history, key=lambda r: r["val_loss"])
        assert row["Best val accuracy"] == pytest.approx(best["val_accuracy"])
        assert row["Training time (s)"] == pytest.approx(
            sum(r["seconds"] for r in history), abs=1e-3
        )
        assert row["Epochs"] == "2/2" and row["Folder"] == run.name


def test_markdown_is_the_notebook_table_with_the_significance(two_runs, tmp_path) -> None:
    text = write_report(two_runs, tmp_path / "study.md", title="LR study").read_text()
    lines = text.splitlines()
    assert lines[0] == "# LR study"
    assert lines[2].startswith("| " + " | ".join(NOTEBOOK) + " | AUC | Accuracy 95% CI |")
    accuracy = evaluation(two_runs[1])["metrics"]["accuracy"]
    assert lines[5].startswith(f"| lr=0.01 | {accuracy:.4f} |")
    (pair,) = compare(two_runs).pairs
    assert f"- {pair.sentence}" in lines


def test_run_names_cannot_smuggle_formulas_or_markup(run_copies, tmp_path) -> None:
    formula = '=HYPERLINK("http://example.invalid","open")'
    update_meta(run_copies[0], title=formula)
    update_meta(run_copies[1], title="a | b <img src=x onerror=alert(1)>")
    raw = write_report(run_copies, tmp_path / "names.csv").read_bytes().decode()
    assert "'=HYPERLINK" in raw  # a spreadsheet shows it as text
    table = csvsafe.read_csv(tmp_path / "names.csv", text=("Run",))
    assert list(table["Run"]) == [formula, "a | b <img src=x onerror=alert(1)>"]
    md = write_report(run_copies, tmp_path / "names.md").read_text()
    assert "<img" not in md and "a \\| b &lt;img" in md


def test_sweep_runs_are_the_studys_trials_in_order(run_copies, tmp_path) -> None:
    update_meta(run_copies[0], sweep={"study": "lr", "trial": 1})
    update_meta(run_copies[1], sweep={"study": "lr", "trial": 0})
    assert sweep_runs("lr", tmp_path / "runs") == [run_copies[1], run_copies[0]]
    assert sweep_runs("other", tmp_path / "runs") == []


def test_a_wrong_suffix_or_a_folder_that_is_not_a_run_is_a_message(two_runs, tmp_path) -> None:
    with pytest.raises(UserError, match=r"report\.pdf: the report's name must end in"):
        write_report(two_runs, tmp_path / "report.pdf")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"empty: not a run folder"):
        write_report([tmp_path / "empty"], tmp_path / "report.md")
