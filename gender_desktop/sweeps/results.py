"""What a sweep found: its trials as rows, the best one (chosen on validation only), which
parameters mattered, and the summary the CLI prints and the GUI shows.

Honest selection: the best trial is the one with the best validation metric; each trial's test
numbers are kept and shown, but marked as not used for the choice (choosing on test would make
the reported test accuracy optimistic). The one number to report is the retrained best model's
single evaluation on test (:func:`gender_desktop.sweeps.runner.retrain_best`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from gender_desktop.sweeps.study import MESSAGE, RUN_DIR, STATE, UNUSED, WORKER

FINAL_RUN = "final_run"  # study user attribute: the retrained best model's run folder
TEST_NOTE = "test numbers are not used for the choice (the best trial is chosen on validation)"


@dataclass
class TrialRow:
    number: int
    state: str  # finished, pruned, failed, stopped, interrupted, running, waiting
    value: float | None  # the sweep's metric
    params: dict[str, Any]
    run_dir: str | None = None
    message: str = ""
    worker: str = ""  # host:pid of the process that ran it
    val_loss: float | None = None
    val_accuracy: float | None = None  # at the best epoch (the weights best.pt holds)
    best_epoch: int | None = None
    test: dict[str, Any] | None = None  # not used for the choice
    seconds: float | None = None


@dataclass
class SweepSummary:
    study: str
    storage: str  # without a password
    metric: str
    direction: str  # minimize or maximize
    trials: list[TrialRow]  # best first (see sort_rows)
    best: TrialRow | None
    stopped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    final_run: str | None = None  # the retrained best, when there is one
    note: str = TEST_NOTE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def row(trial: FrozenTrial) -> TrialRow:
    attrs = trial.user_attrs
    state = {
        TrialState.COMPLETE: "finished",
        TrialState.PRUNED: "pruned",
        TrialState.RUNNING: "running",
        TrialState.WAITING: "waiting",
    }.get(trial.state) or str(attrs.get(STATE) or "interrupted")
    value = trial.value if trial.state in (TrialState.COMPLETE, TrialState.PRUNED) else None
    if trial.state == TrialState.PRUNED and value is None and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    return TrialRow(
        trial.number,
        state,
        value,
        dict(trial.params or trial.system_attrs.get("fixed_params") or {}),
        attrs.get(RUN_DIR),
        str(attrs.get(MESSAGE) or ""),
        str(attrs.get(WORKER) or ""),
        attrs.get("val_loss"),
        attrs.get("val_accuracy"),
        attrs.get("best_epoch"),
        attrs.get("test"),
        duration,
    )


def trials_table(study: optuna.Study) -> list[TrialRow]:
    """Every trial of the study (for the table and the parallel coordinates), in trial order;
    the spare trials a grid's last race can leave are not trials of the sweep."""
    return [row(t) for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(UNUSED)]


def sort_rows(rows: list[TrialRow], direction: str) -> list[TrialRow]:
    """Finished trials best first, then pruned, then the rest by number."""
    sign = 1.0 if direction == "minimize" else -1.0
    order = {"finished": 0, "pruned": 1}

    def key(r: TrialRow) -> tuple[int, float, int]:
        good = r.value is not None and math.isfinite(r.value)
        return (order.get(r.state, 2), sign * r.value if good else math.inf, r.number)

    return sorted(rows, key=key)


def best_trial(study: optuna.Study) -> TrialRow | None:
    """The finished trial with the best validation metric (None: none finished)."""
    rows = [r for r in trials_table(study) if r.state == "finished" and r.value is not None]
    ranked = sort_rows(rows, _direction(study))
    return ranked[0] if ranked else None


def summarise(study: optuna.Study, storage: str, stopped: bool = False) -> SweepSummary:
    rows = sort_rows(trials_table(study), _direction(study))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    return SweepSummary(
        study.study_name,
        storage,
        str(study.user_attrs.get("metric", "val_loss")),
        _direction(study),
        rows,
        best_trial(study),
        stopped,
        counts,
        study.user_attrs.get(FINAL_RUN),
    )


def importance(study: optuna.Study) -> dict[str, float]:
    """How much each parameter mattered to the metric, normalised to sum to 1 ({} until three
    trials finished with different values: PED-ANOVA compares the good ones with the rest). Optuna's PED-ANOVA evaluator: it needs nothing
    beyond numpy (fANOVA, Optuna's default, needs scikit-learn). With the few trials of a
    small sweep, the quantile of "good" trials is widened so that it holds at least two."""
    from optuna.importance import PedAnovaImportanceEvaluator

    finished = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    varied = (
        [k for k in finished[0].params if len({str(t.params.get(k)) for t in finished}) > 1]
        if finished
        else []
    )
    if len(finished) < 3 or not varied:
        return {}
    quantile = min(0.5, max(0.1, 2 / len(finished)))  # PED-ANOVA refuses a quantile of 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature and few-trials warnings
        try:
            result = optuna.importance.get_param_importances(
                study,
                evaluator=PedAnovaImportanceEvaluator(target_quantile=quantile),
                params=varied,
            )
        except (ValueError, RuntimeError, ZeroDivisionError):
            return {}
    return {k: float(v) for k, v in result.items()}


def _direction(study: optuna.Study) -> str:
    return "maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "minimize"
