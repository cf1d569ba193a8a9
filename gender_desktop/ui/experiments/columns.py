"""The runs table's columns: what each shows for a run and for a cross-validation group, how it
sorts, and which are shown until the user chooses (View > Columns…, remembered)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gender_desktop.durations import duration_text
from gender_desktop.runs.index import RunRecord
from gender_desktop.runs.meta import FAILED, INTERRUPTED, RUNNING, STOPPED


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _ci(r: RunRecord) -> str:
    return f"{100 * r.test_ci[0]:.1f}–{100 * r.test_ci[1]:.1f}%" if r.test_ci else ""


def _seconds(value: float | None) -> str:
    return duration_text(value, empty="")


def _status(r: RunRecord) -> str:
    if r.status == RUNNING:
        return f"running ({r.epochs_done}/{r.epochs_planned or '?'})"
    return r.status + (" ⚠" if r.problem else "")


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    text: Callable[[RunRecord], str]
    sort: Callable[[RunRecord], Any]
    tip: str = ""
    shown: bool = True  # shown until the user chooses
    metric: str = ""  # a RunRecord number a cross-validation group shows as mean ± std
    percent: bool = False

    @property
    def numeric(self) -> bool:
        return bool(self.metric)


def _m(key: str, title: str, attr: str, tip: str, shown: bool = True, pct: bool = True) -> Column:
    """A numeric column of ``RunRecord.attr``."""
    if pct:
        text: Callable[[RunRecord], str] = lambda r: _pct(getattr(r, attr))  # noqa: E731
    elif attr == "train_seconds":
        text = lambda r: _seconds(r.train_seconds)  # noqa: E731
    else:
        text = lambda r: "" if getattr(r, attr) is None else f"{getattr(r, attr):,.0f}"  # noqa: E731
    return Column(key, title, text, lambda r: getattr(r, attr), tip, shown, attr, pct)


COLUMNS: tuple[Column, ...] = (
    Column("title", "Run", lambda r: r.title, lambda r: r.title.lower(), "The run's title (rename it: F2); the folder name is in the tooltip"),
    Column("created", "Created", lambda r: r.created[:16], lambda r: r.created),
    Column("dataset", "Dataset", lambda r: Path(r.dataset).name if r.dataset else "", lambda r: r.dataset, "The dataset the run trained on", shown=False),
    Column("backbone", "Backbone", lambda r: r.backbone, lambda r: r.backbone),
    Column("scope", "Scope", lambda r: r.scope, lambda r: r.scope, "Which layers were trained"),
    Column("weights", "Weights", lambda r: r.weights, lambda r: r.weights, "Starting weights", shown=False),
    Column("optimizer", "Optimizer", lambda r: r.optimizer, lambda r: r.optimizer, shown=False),
    Column("lr", "LR", lambda r: "" if r.lr is None else f"{r.lr:g}", lambda r: r.lr, "Learning rate"),
    Column("batch", "Batch", lambda r: "" if r.batch_size is None else str(r.batch_size), lambda r: r.batch_size),
    Column("epochs", "Epochs", lambda r: r.epochs_text, lambda r: r.epochs_done, "Epochs done / planned"),
    Column("augmentation", "Augmentation", lambda r: r.augmentation, lambda r: r.augmentation, shown=False),
    Column("input", "Input", lambda r: "" if r.input_size is None else f"{r.input_size} px", lambda r: r.input_size, "Input size", shown=False),
    _m("val", "Best val", "best_val_accuracy", "Validation accuracy at the best epoch (lowest validation loss: the weights best.pt holds)"),
    _m("max_val", "Max val", "max_val_accuracy", "Highest validation accuracy of any epoch", shown=False),
    _m("test", "Test acc", "test_accuracy", "Accuracy on the test split of the training dataset (the run's evaluation)"),
    Column("ci", "95% CI", _ci, lambda r: r.test_ci[0] if r.test_ci else None, "Wilson 95% confidence interval of the test accuracy"),
    _m("precision", "Precision", "test_precision", "Test precision (Male is the positive class)", shown=False),
    _m("recall", "Recall", "test_recall", "Test recall (Male is the positive class)", shown=False),
    _m("f1", "F1", "test_f1", "Test F1 (Male is the positive class)", shown=False),
    _m("auc", "AUC", "test_auc", "Area under the test ROC curve", shown=False),
    _m("time", "Time", "train_seconds", "Training time (the epochs' seconds)", pct=False),
    _m("speed", "img/s", "images_per_second", "Mean training speed", shown=False, pct=False),
    Column("device", "Device", lambda r: r.device, lambda r: r.device, shown=False),
    Column("status", "Status", _status, lambda r: r.status),
    Column("sweep", "Sweep", lambda r: r.sweep_name + (f" #{r.sweep['trial']}" if "trial" in r.sweep else "") if r.sweep_name else "", lambda r: r.sweep_name),
    Column("tags", "Tags", lambda r: ", ".join(r.tags), lambda r: ", ".join(r.tags)),
    Column("note", "Note", lambda r: r.note.splitlines()[0] if r.note else "", lambda r: r.note, shown=False),
)  # fmt: skip
BY_KEY = {c.key: c for c in COLUMNS}
DEFAULT_KEYS = [c.key for c in COLUMNS if c.shown]


# -- cross-validation groups -------------------------------------------------------------------------
SEVERITY = (RUNNING, INTERRUPTED, FAILED, STOPPED)


def group_text(column: Column, folds: Sequence[RunRecord]) -> str:
    """A cross-validation group's cell: mean ± standard deviation of a metric over the folds
    that have it, the common value of a setting, or "mixed"."""
    if column.key == "title":
        name = folds[0].cv_group
        return f"{name} · {len(folds)} folds"
    if column.key == "created":
        return max(f.created for f in folds)[:16]
    if column.key == "ci":
        return ""  # the folds' intervals do not combine into one; the spread is the ± of Test acc
    if column.key == "status":
        for state in SEVERITY:
            hit = [f for f in folds if f.status == state]
            if hit:
                return f"{state} ({len(hit)} of {len(folds)})"
        return folds[0].status
    if column.metric:
        values = [getattr(f, column.metric) for f in folds if getattr(f, column.metric) is not None]
        return mean_std(values, "percent" if column.percent else column.key)
    values = {column.text(f) for f in folds}
    return values.pop() if len(values) == 1 else "mixed"


def mean_std(values: Sequence[float], kind: str = "percent") -> str:
    """``"91.2 ± 0.8%"`` (the sample standard deviation, as papers report k-fold results; ± 0
    for one fold); ``kind`` "time" shows seconds, anything else plain numbers."""
    if not values:
        return ""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    if kind == "percent":
        return f"{100 * mean:.1f} ± {100 * std:.1f}%"
    if kind == "time":
        return f"{_seconds(mean)} ± {_seconds(std)}" if std else _seconds(mean)
    return f"{mean:,.0f} ± {std:,.0f}"


def group_sort(column: Column, folds: Sequence[RunRecord]) -> Any:
    if column.metric:
        values = [getattr(f, column.metric) for f in folds if getattr(f, column.metric) is not None]
        return statistics.fmean(values) if values else None
    return column.sort(folds[0])
