"""What a sweep reports, besides the trainer's own events (torch- and Optuna-free).

``run_sweep(spec, callback=...)`` hands the callback, in this order: :class:`SweepStarted`;
per trial :class:`TrialStarted`, then that trial's trainer events (PhaseProgress, BatchEnd,
EpochEnd, LogLine, RunStarted, RunEnded of :mod:`gender_desktop.ml.events`), then
:class:`TrialEnded`; finally :class:`SweepEnded`. A trial refused before training (its
settings are invalid) has a TrialStarted with ``run_dir`` None and no trainer events.

States are the run states of status.json: ``finished``, ``pruned``, ``failed``, ``stopped``.
``index`` / ``total`` place a trial in the whole sweep (all workers): 3 of 6 is the third trial
the study started. The GUI shows per-trial progress from the trainer events and overall
progress from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SweepStarted:
    study: str
    storage: str  # the storage URL without a password
    total: int  # the runs the sweep makes in all (grid size or trials)
    done: int  # trials the study had already ended (a resumed or joined sweep)


@dataclass
class TrialStarted:
    number: int  # Optuna's trial number in the study
    params: dict[str, Any]  # the trial's values by space key (lr, batch, ...)
    # The run folder it will write (None: refused before training); the trainer's RunStarted
    # gives the final path (another if a run took this name meanwhile). A resumed stopped
    # trial names its old folder.
    run_dir: str | None
    index: int  # 1-based place among the sweep's trials
    total: int


@dataclass
class TrialEnded:
    number: int
    state: str  # finished, pruned, failed or stopped
    value: float | None  # the metric (finished; the last reported for pruned), else None
    message: str = ""  # why it failed or stopped
    run_dir: str | None = None
    index: int = 0
    total: int = 0


@dataclass
class SweepEnded:
    study: str
    stopped: bool  # the user stopped it: running the same sweep again continues it
    best: int | None  # the best trial's number (chosen on validation), None: none finished
    counts: dict[str, int] = field(default_factory=dict)  # trials per state in the study


SweepEvent = SweepStarted | TrialStarted | TrialEnded | SweepEnded
