"""Running a sweep in this process: trials one after another, each an ordinary run folder.

``run_sweep(spec)`` opens (or joins) the study, then takes trials until none is left: a grid's
waiting trials, or new trials until the study holds ``spec.trials``. Each trial's settings are
the base settings with its values (:func:`~gender_desktop.sweeps.space.apply`); its run folder's
``meta.json`` says ``sweep = {"study", "storage", "trial"}``. The trainer's validation metric
goes to Optuna each epoch, and the pruner may end the run there (``pruned``).

A trial that fails (invalid settings, out of memory, a NaN loss, unreadable data) is told FAIL
with its message and the sweep goes on; a bug is told FAIL too, then raised. Stop (the GUI's
button, Ctrl+C in the CLI) ends the running trial (its run folder says ``stopped``) and the
sweep; the stopped trial's values are enqueued again (with its run folder to resume), so the
same command run again continues where it stopped and never repeats a finished trial.

All trials share one :class:`~gender_desktop.ml.inputs.SharedInputs`: a head-only grid (frozen
backbone, no augmentation) computes the backbone's features once for all of its trials.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from gender_desktop.errors import UserError
from gender_desktop.ml.config import ConfigError, TrainConfig
from gender_desktop.ml.events import Control, EpochEnd, Event, RunStarted
from gender_desktop.ml.inputs import SharedInputs
from gender_desktop.runs import meta
from gender_desktop.runs.folder import CONFIG, LAST, RunFolder
from gender_desktop.sweeps import study as studies
from gender_desktop.sweeps.events import (
    SweepEnded,
    SweepEvent,
    SweepStarted,
    TrialEnded,
    TrialStarted,
)
from gender_desktop.sweeps.results import FINAL_RUN, SweepSummary, best_trial, summarise
from gender_desktop.sweeps.space import KEYS, Param, apply, describe
from gender_desktop.sweeps.spec import SweepSpec, count_runs
from gender_desktop.sweeps.storage import Storage, open_storage

SweepCallback = Callable[[Event | SweepEvent], None]
COUNTED = ("finished", "pruned", "failed")  # trials that used up a place in the sweep


class _EitherSet(threading.Event):
    """A trial's stop flag: set by the pruner for this trial only, or by the sweep's stop
    (which outlives the trial, so it cannot be the trial's own flag)."""

    def __init__(self, sweep_stop: threading.Event) -> None:
        super().__init__()
        self.sweep_stop = sweep_stop

    def is_set(self) -> bool:
        return super().is_set() or self.sweep_stop.is_set()


def run_sweep(
    spec: SweepSpec,
    runs_dir: Path | None = None,
    callback: SweepCallback | None = None,
    control: Control | None = None,
    shared: SharedInputs | None = None,
    track: Sequence[str] | None = None,
    worker_trials: int | None = None,
) -> SweepSummary:
    """Run (or resume, or join) the sweep until no trial is left or ``control.stop`` is set;
    the summary is the study's (all workers' trials), best first. ``track``: the trackers
    each trial's run writes to, as for one training (None: TensorBoard where installed).
    ``worker_trials``: this worker ends after that many trials (a machine's share, as
    Optuna's ``n_trials`` of one ``optimize`` call), the study goes on with the others."""
    spec.validate()
    emit = callback or (lambda event: None)
    control = control or Control()
    shared = shared or SharedInputs()
    storage = open_storage(spec.storage)
    study = studies.open_study(spec, storage)
    total = count_runs(spec)
    emit(SweepStarted(study.study_name, storage.public, total, len(_counted(study))))
    stopped, ran = False, 0
    while not control.stop.is_set() and (worker_trials is None or ran < worker_trials):
        ran += 1
        trial = next_trial(study, spec, storage)
        if trial is None:
            break
        ended = _TrialRun(spec, study, storage, trial, runs_dir, emit, control, shared, track).run()
        stopped = ended.state == meta.STOPPED
        if stopped:
            break
    summary = summarise(study, storage.public, stopped or control.stop.is_set())
    best = summary.best.number if summary.best else None
    emit(SweepEnded(study.study_name, summary.stopped, best, summary.counts))
    return summary


def _counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that took a place in the sweep: ended (but not stopped or interrupted, which
    run again) or running."""
    out = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get(studies.UNUSED) or t.state == TrialState.WAITING:
            continue
        if t.state == TrialState.FAIL and t.user_attrs.get(studies.STATE) != "failed":
            continue
        out.append(t)
    return out


def next_trial(study: optuna.Study, spec: SweepSpec, storage: Storage) -> optuna.Trial | None:
    """The next trial for this worker, or None when the sweep has none left. ``study.ask``
    takes a waiting trial first (a grid point, or a stopped trial's values enqueued again)
    and only makes a new one when none waits; a grid must not grow, so a new trial asked for
    in the instant another worker took the last grid point is put aside as unused."""
    with storage.pop_lock():
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if spec.sampler == "grid" and not waiting:
            return None
        if spec.sampler != "grid" and not waiting and len(_counted(study)) >= (spec.trials or 0):
            return None
        trial = study.ask()
    if spec.sampler == "grid" and studies.POINT not in trial.user_attrs:
        trial.set_user_attr(studies.UNUSED, True)
        study.tell(trial, state=TrialState.FAIL)
        return None
    return trial


def suggest(trial: optuna.Trial, space: tuple[Param, ...]) -> dict[str, Any]:
    """The trial's values (an enqueued trial gets its fixed ones back from these calls)."""
    params: dict[str, Any] = {}
    for p in space:
        if not p.is_range:
            params[p.key] = trial.suggest_categorical(p.key, list(p.values))
        elif p.integer:
            params[p.key] = trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log)
        else:
            params[p.key] = trial.suggest_float(p.key, p.low, p.high, log=p.log)
    return params


def metric_value(summary: dict[str, Any], metric: str) -> float | None:
    """A finished run's score: its best epoch's validation loss, or the validation accuracy
    of that same epoch (the weights best.pt keeps), not the highest accuracy of any epoch."""
    value = summary.get("best_val_loss" if metric == "val_loss" else "val_accuracy_at_best_epoch")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


class _TrialRun:
    """One trial: its settings, run folder, training, and what Optuna is told."""

    def __init__(
        self,
        spec: SweepSpec,
        study: optuna.Study,
        storage: Storage,
        trial: optuna.Trial,
        runs_dir: Path | None,
        emit: SweepCallback,
        control: Control,
        shared: SharedInputs,
        track: Sequence[str] | None = None,
    ) -> None:
        self.spec, self.study, self.storage, self.trial = spec, study, storage, trial
        self.track = track
        self.runs_dir, self.emit, self.shared = runs_dir, emit, shared
        self.control = Control(stop=_EitherSet(control.stop), pause=control.pause)
        self.index = len(_counted(study))
        self.total = count_runs(spec)
        self.run_dir: str | None = None
        self.last_epoch = spec.base.epochs
        self.params: dict[str, Any] = {}

    def run(self) -> TrialEnded:
        trial = self.trial
        trial.set_user_attr(studies.WORKER, studies.worker_id())
        pinned = os.environ.get("CUDA_VISIBLE_DEVICES")
        if pinned is not None:  # a worker of `--devices`: the GPU it ran on
            trial.set_user_attr(studies.GPU, pinned)
        params = suggest(trial, self.spec.space)
        self.params = params
        try:
            config = apply(self.spec.base, params)
        except ConfigError as exc:
            self.emit(TrialStarted(trial.number, params, None, self.index, self.total))
            return self._end(meta.FAILED, None, str(exc), params)
        self.last_epoch = config.epochs
        folder, resume = self._folder(params)
        self.emit(TrialStarted(trial.number, params, str(folder.path), self.index, self.total))
        from gender_desktop.ml.trackers import with_trackers
        from gender_desktop.ml.trainer import Trainer

        try:
            callback = with_trackers(self._on_event, self.track)
            trainer = Trainer(config, folder, callback, self.control, shared=self.shared)
            summary = trainer.run(resume=resume)
        except (UserError, MemoryError) as exc:
            self._tidy_unbegun(folder)
            return self._end(meta.FAILED, None, str(exc) or "out of memory", params)
        except KeyboardInterrupt:
            self._end(meta.STOPPED, None, "stopped at once (Ctrl+C)", params)
            raise
        except BaseException as exc:
            self._tidy_unbegun(folder)
            if _out_of_memory(exc):
                return self._end(meta.FAILED, None, f"out of memory: {exc}", params)
            self._end(meta.FAILED, None, f"internal error: {type(exc).__name__}: {exc}", params)
            raise
        return self._finished(summary, params)

    def _folder(self, params: dict[str, Any]) -> tuple[RunFolder, bool]:
        """A new run folder named from the values, or the stopped run this trial continues
        (when its folder is on this disk with a complete epoch)."""
        previous = self.trial.user_attrs.get(studies.RESUME)
        if previous and (Path(previous) / LAST).is_file():
            return RunFolder(Path(previous)), True
        name = f"{self.study.study_name}-t{self.trial.number}-{describe(params).replace(' ', '_')}"
        return RunFolder.create(name, self.runs_dir), False

    def _tidy_unbegun(self, folder: RunFolder) -> None:
        """The trainer removes the files of a run that failed before its first epoch; the
        meta.json this trial wrote (and the status written after it) would keep a folder
        without settings: removed too, so a failed trial leaves what a failed run leaves."""
        if not folder.created or (folder.path / CONFIG).exists():
            return
        for name in (meta.META, meta.STATUS):
            with contextlib.suppress(OSError):
                (folder.path / name).unlink()
        with contextlib.suppress(OSError):
            folder.path.rmdir()
            self.run_dir = None

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RunStarted) and event.run_dir:
            self.run_dir = event.run_dir
            self.trial.set_user_attr(studies.RUN_DIR, event.run_dir)
            sweep = {
                "study": self.study.study_name,
                "storage": self.storage.public,
                "trial": self.trial.number,
            }
            folder = Path(event.run_dir)
            # The runs table's title: what this trial varies (a rename by the user stays).
            title = meta.read_meta(folder).title or (
                f"{describe(self.params)} · trial {self.trial.number}"
            )
            with contextlib.suppress(OSError):  # the study names its folder all the same
                meta.update_meta(folder, sweep=sweep, title=title)
        elif isinstance(event, EpochEnd):
            self._report(event)
        self.emit(event)

    def _report(self, event: EpochEnd) -> None:
        """The epoch's validation metric to Optuna; the pruner may end the run here (never
        after the last epoch, which would cancel the run's test evaluation)."""
        epoch = int(event.metrics["epoch"])
        value = float(event.metrics[self.spec.metric])
        if not math.isfinite(value):
            return
        self.trial.report(value, epoch)
        if epoch < self.last_epoch and self.trial.should_prune():
            self.control.prune()

    def _finished(self, summary: dict[str, Any], params: dict[str, Any]) -> TrialEnded:
        state = summary.get("state", meta.FINISHED)
        self.run_dir = summary.get("run_dir") or self.run_dir
        for key, attr in (
            ("best_val_loss", "val_loss"),
            ("val_accuracy_at_best_epoch", "val_accuracy"),
            ("best_epoch", "best_epoch"),
            ("test", "test"),
        ):
            if summary.get(key) is not None:
                self.trial.set_user_attr(attr, summary[key])
        if state == meta.FINISHED:
            value = metric_value(summary, self.spec.metric)
            if value is None:
                return self._end(meta.FAILED, None, "no epoch gave a finite metric", params)
            return self._end(meta.FINISHED, value, "", params)
        if state == meta.PRUNED:
            return self._end(meta.PRUNED, None, "ended early by the pruner", params)
        return self._end(meta.STOPPED, None, "stopped", params)

    def _end(self, state: str, value: float | None, message: str, params: dict) -> TrialEnded:
        trial = self.trial
        trial.set_user_attr(studies.STATE, state)
        if message:
            trial.set_user_attr(studies.MESSAGE, message[:2000])
        if state == meta.FINISHED:
            frozen = self.study.tell(trial, value)
        else:
            optuna_state = TrialState.PRUNED if state == meta.PRUNED else TrialState.FAIL
            frozen = self.study.tell(trial, state=optuna_state)
            if state == meta.PRUNED:
                value = frozen.value
            if state == meta.STOPPED:
                with self.storage.pop_lock():
                    studies.requeue(self.study, frozen)
        ended = TrialEnded(
            trial.number, state, value, message, self.run_dir, self.index, self.total
        )
        self.emit(ended)
        return ended


def _out_of_memory(exc: BaseException) -> bool:
    """torch's out-of-memory errors (CUDA, MPS) without importing torch's error types."""
    return "out of memory" in str(exc).lower() and isinstance(exc, RuntimeError)


# -- the final model --------------------------------------------------------------------------
def retrain_best(
    spec: SweepSpec,
    runs_dir: Path | None = None,
    callback: SweepCallback | None = None,
    control: Control | None = None,
    shared: SharedInputs | None = None,
    track: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train the best trial's settings (chosen on validation) once more on train + val and
    evaluate it once on test: the sweep's final model. Its run folder's meta.json tags it
    (``sweep.final``) and the study remembers it. Returns the trainer's summary."""
    from gender_desktop.ml.trainer import Trainer

    storage = open_storage(spec.storage)
    study = studies.load_existing(spec, storage)
    best = best_trial(study)
    if best is None:
        raise UserError(
            f"the study {study.study_name!r} has no finished trial to retrain; run the sweep first"
        )
    config = final_config(spec.base, best.params)
    name = f"{study.study_name}-best-t{best.number}-train+val"
    folder = RunFolder.create(name, runs_dir)

    def on_event(event: Event) -> None:
        if isinstance(event, RunStarted) and event.run_dir:
            sweep = {
                "study": study.study_name,
                "storage": storage.public,
                "trial": best.number,
                "final": True,
            }
            meta.update_meta(Path(event.run_dir), sweep=sweep, tags=["sweep final model"])
        if callback is not None:
            callback(event)

    from gender_desktop.ml.trackers import with_trackers

    tracked = with_trackers(on_event, track)
    summary = Trainer(config, folder, tracked, control, shared=shared).run()
    if summary.get("state") == meta.FINISHED and summary.get("run_dir"):
        study.set_user_attr(FINAL_RUN, summary["run_dir"])
    return summary


def final_config(base: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """The best trial's settings fitted on train + val (validation is no longer held out)."""
    config = apply(base, {k: v for k, v in params.items() if k in KEYS})
    config.fit_on = "train+val"
    config.validate()
    return config
