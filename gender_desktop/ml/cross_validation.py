"""Cross-validation of a configuration: k ordinary runs, one per fold, and their mean ± std.

Fold ``i`` is a normal run folder whose settings say ``fold="i/k:method@seed"`` (see
:mod:`gender_desktop.data.folds`): it resumes, re-evaluates and appears in the runs table like
any run; ``meta.json`` tags it ``cv={"group", "fold", "folds", "method"}`` so the table can show a
group as one row. The summary is computed from the run folders alone (:func:`summarize_runs`:
``metrics.csv`` and ``evaluation.json``), so any reader gets the same numbers; a copy is written
as ``<runs dir>/<group>.cv.json`` for the record and the CLI's ``--json``.

The test split is never part of a fold: each fold run is evaluated once on the same held-out test
images, and those numbers are reported beside the validation ones (the folds' own val scores are
what the configuration is judged on).

Not to be confused with :mod:`gender_desktop.ml.crossval`, which finds label errors with
out-of-fold scores of one trained run's train images.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gender_desktop.data import folds as folds_mod
from gender_desktop.data.labels import labelled_table
from gender_desktop.errors import UserError
from gender_desktop.fileio import atomic_write_json
from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.events import Control, Event, RunStarted
from gender_desktop.ml.inputs import SharedInputs
from gender_desktop.runs import meta
from gender_desktop.runs.folder import RunFolder, RunUnusable, workspace_path

DEFAULT_FOLDS = 5
# What is averaged over the folds, in the order tables show them.
METRICS = (
    "best_val_accuracy",
    "best_val_loss",
    "val_accuracy_at_best_epoch",
    "test_accuracy",
    "test_precision",
    "test_recall",
    "test_f1",
    "test_auc",
    "train_seconds",
)
SUMMARY_SUFFIX = ".cv.json"


@dataclass
class FoldStarted:
    """A fold's run is about to start (``run_dir`` is where it will be)."""

    group: str
    fold: int
    folds: int
    run_dir: str


@dataclass
class FoldEnded:
    group: str
    fold: int
    folds: int
    run_dir: str | None
    state: str  # the run's final state (finished, stopped, failed)
    values: dict[str, float | None]


@dataclass
class CVSummary:
    group: str
    method: str
    folds: int
    runs: list[str] = field(default_factory=list)  # run folders, in fold order
    per_fold: list[dict[str, float | None]] = field(default_factory=list)
    mean: dict[str, float | None] = field(default_factory=dict)
    std: dict[str, float | None] = field(default_factory=dict)  # sample deviation (n - 1)
    complete: bool = False  # every fold finished
    file: str | None = None  # the <group>.cv.json written

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fold_values(run_dir: str | Path) -> dict[str, float | None]:
    """One fold's numbers, from its own files: the val columns of ``metrics.csv`` (best val
    accuracy, the val loss of the best epoch and that epoch's accuracy) and ``evaluation.json``
    (its test metrics; None when the run was not evaluated). Damaged files give None."""
    folder = RunFolder(Path(run_dir))
    values: dict[str, float | None] = dict.fromkeys(METRICS)
    try:
        rows = folder.read_metrics()
    except (RunUnusable, OSError):
        rows = []
    if rows:
        best = min(rows, key=lambda r: r["val_loss"])
        values["best_val_accuracy"] = max(r["val_accuracy"] for r in rows)
        values["best_val_loss"] = best["val_loss"]
        values["val_accuracy_at_best_epoch"] = best["val_accuracy"]
        values["train_seconds"] = folder.train_seconds()
    try:
        evaluation = folder.read_evaluation() or {}
    except (OSError, ValueError):
        evaluation = {}
    if evaluation.get("split") == "test":
        numbers = evaluation.get("metrics") or {}
        for key in ("accuracy", "precision", "recall", "f1"):
            values[f"test_{key}"] = _number(numbers.get(key))
        values["test_auc"] = _number((evaluation.get("roc") or {}).get("auc"))
    return values


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation of the known values (std None below two)."""
    known = [v for v in values if v is not None]
    if not known:
        return None, None
    return statistics.fmean(known), (statistics.stdev(known) if len(known) > 1 else None)


def summarize_runs(run_dirs: list[str | Path]) -> CVSummary:
    """The cross-validation summary of a group's run folders, from the folders alone (their
    ``meta.json`` ``cv`` tag orders them): what the runs table and the CLI show."""
    tagged = sorted(
        ((meta.read_meta(Path(d)).cv, Path(d)) for d in run_dirs),
        key=lambda item: (item[0].get("fold", 0), str(item[1])),
    )
    first = tagged[0][0] if tagged else {}
    summary = CVSummary(
        group=str(first.get("group", "")),
        method=str(first.get("method", "")),
        folds=int(first.get("folds", len(tagged)) or len(tagged)),
        runs=[str(path) for _cv, path in tagged],
    )
    summary.per_fold = [fold_values(path) for _cv, path in tagged]
    for key in METRICS:
        summary.mean[key], summary.std[key] = mean_std([v[key] for v in summary.per_fold])
    finished = {cv.get("fold") for cv, path in tagged if meta.read_status(path).state == "finished"}
    summary.complete = finished >= set(range(summary.folds))
    return summary


def group_runs(runs_dir: Path, group: str) -> list[Path]:
    """The run folders under ``runs_dir`` tagged with the cross-validation ``group``."""
    return sorted(
        p
        for p in Path(runs_dir).iterdir()
        if p.is_dir() and meta.read_meta(p).cv.get("group") == group
    )


def new_group_id() -> str:
    return f"cv-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def plan(
    base_config: TrainConfig, folds: int | None, method: str, shared: SharedInputs, control: Control
) -> folds_mod.FoldSpec:
    """The first fold's spec, checked against the dataset before any run is made: the method
    ``auto`` resolves (Adience's folds, identities, else stratified), Adience's fold count is
    its own when ``folds`` is None, and a fold count the data cannot fill is refused."""
    dataset = shared.dataset(base_config.data, None, control.stop)
    table = labelled_table(dataset)
    chosen = folds_mod.auto_method(table) if method == folds_mod.AUTO else method
    if chosen == "adience" and "fold" in table and folds is None:
        folds = len(folds_mod.adience_folds(table))
    spec = folds_mod.FoldSpec(0, folds or DEFAULT_FOLDS, chosen, base_config.seed)
    folds_mod.fold_numbers(table, spec.folds, spec.method, spec.seed)  # raises what is wrong
    return spec


def cross_validate(
    base_config: TrainConfig,
    folds: int | None = None,
    method: str = folds_mod.AUTO,
    runs_dir: Path | None = None,
    callback: Callable[[Event | FoldStarted | FoldEnded], None] | None = None,
    control: Control | None = None,
    shared: SharedInputs | None = None,
    name: str = "",
    track: Sequence[str] | None = None,
) -> CVSummary:
    """Train ``base_config`` once per fold (``folds`` None: 5, or Adience's own count), one
    run folder each under ``runs_dir`` (default: the workspace), every run evaluated on the test
    split, and return the summary (also written as ``<runs_dir>/<group>.cv.json``). A stop ends
    the fold that is running (kept, resumable) and starts no more. ``track``: the trackers
    each fold's run writes to, as for one training (None: TensorBoard where installed)."""
    from gender_desktop.ml.trackers import with_trackers
    from gender_desktop.ml.trainer import Trainer  # torch: only once training starts

    control = control or Control()
    shared = shared or SharedInputs()
    emit = callback or (lambda _event: None)
    if method != folds_mod.AUTO and method not in folds_mod.METHODS:
        raise UserError(f"method must be auto or one of {', '.join(folds_mod.METHODS)}")
    base_config.validate()
    spec = plan(base_config, folds, method, shared, control)
    root = Path(runs_dir) if runs_dir is not None else workspace_path()
    group = new_group_id()
    label = name or f"{base_config.model.backbone}-{base_config.model.scope.replace(':', '-')}"
    tag = {"group": group, "folds": spec.folds, "method": spec.method}
    run_dirs: list[str] = []
    for index in range(spec.folds):
        if control.stop.is_set():
            break
        config = dataclasses.replace(base_config, fold=str(spec.with_index(index)))
        run = RunFolder.create(f"{label}-fold{index}", root)
        emit(FoldStarted(group, index, spec.folds, str(run.path)))
        tagger = _tagging(emit, {**tag, "fold": index})
        tracked = with_trackers(tagger, track)
        summary = Trainer(config, run=run, callback=tracked, control=control, shared=shared).run()
        if summary["run_dir"]:
            run_dirs.append(summary["run_dir"])
        values = fold_values(summary["run_dir"]) if summary["run_dir"] else dict.fromkeys(METRICS)
        emit(FoldEnded(group, index, spec.folds, summary["run_dir"], summary["state"], values))
    result = summarize_runs(run_dirs) if run_dirs else CVSummary(group, spec.method, spec.folds)
    result.group, result.method, result.folds = group, spec.method, spec.folds
    if run_dirs:
        file = root / f"{group}{SUMMARY_SUFFIX}"
        atomic_write_json(file, result.to_dict() | {"file": str(file)})
        result.file = str(file)
    return result


def _tagging(emit: Callable[[Any], None], cv: dict[str, Any]) -> Callable[[Any], None]:
    """The trainer's callback that tags the run as a fold as soon as its folder exists (the
    RunStarted event), so an interrupted fold is still one of its group."""

    def callback(event: Any) -> None:
        if isinstance(event, RunStarted) and event.run_dir:
            meta.update_meta(Path(event.run_dir), cv=cv)
        emit(event)

    return callback
