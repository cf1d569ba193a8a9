"""Creating or joining a sweep's Optuna study: the study is the sweep's record.

The first worker creates the study (Optuna refuses a second study of the same name, so exactly
one worker does), stores what the sweep is (space, sampler, metric, trials, the base settings) in
the study's user attributes and, for a grid, enqueues every grid point once as a WAITING trial;
only then does it mark the study ready. Any other worker (the same command on another machine,
or the same command run again to resume) loads the study, waits until it is ready, checks that
it runs the same sweep, and takes waiting trials: Optuna hands each waiting trial to one worker
only (see :meth:`.storage.Storage.pop_lock`), so no grid point runs twice.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import optuna
from optuna.trial import TrialState

from gender_desktop.errors import UserError
from gender_desktop.fileio import pid_alive
from gender_desktop.sweeps.spec import SweepSpec, count_runs, grid_points
from gender_desktop.sweeps.storage import Storage

READY = "ready"
READY_WAIT_S = 60.0
# Trial user attributes this package writes
STATE, MESSAGE, WORKER, RUN_DIR, POINT, RESUME = (
    "state",
    "message",
    "worker",
    "run_dir",
    "grid_point",
    "resume_dir",
)
GPU = "cuda_visible_devices"  # the worker's CUDA_VISIBLE_DEVICES: the GPU it was pinned to
UNUSED = "unused"  # a trial asked for when the grid had just run out (see next_trial)


def worker_id() -> str:
    """This process, as trials name the worker that ran them: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def open_study(spec: SweepSpec, storage: Storage, wait_s: float = READY_WAIT_S) -> optuna.Study:
    """The sweep's study in ``storage``: created (with its grid enqueued) or joined."""
    name = spec.study_name()
    try:
        study = optuna.create_study(
            storage=storage.optuna, study_name=name, direction=spec.direction
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage.optuna)
        _wait_ready(study, wait_s)
        check_same_sweep(study, spec)
    else:
        _initialise(study, spec)
    study.sampler = make_sampler(spec, offset=len(study.get_trials(deepcopy=False)))
    study.pruner = make_pruner(spec)
    reclaim_interrupted(study, storage)
    return study


def load_existing(spec: SweepSpec, storage: Storage) -> optuna.Study:
    """The sweep's study, which must exist (retraining its best, reading its results)."""
    name = spec.study_name()
    try:
        return optuna.load_study(study_name=name, storage=storage.optuna)
    except KeyError:
        raise UserError(f"no study {name!r} in {storage.public}; run the sweep first") from None


def load_spec(name: str, storage: str | None = None) -> SweepSpec:
    """The sweep a study runs, rebuilt from what its creator stored (the GUI's "retrain the
    best" and "continue this sweep" on a study picked from a list)."""
    from gender_desktop.ml.config import ConfigError, TrainConfig
    from gender_desktop.sweeps.space import parse_space
    from gender_desktop.sweeps.storage import open_storage

    opened = open_storage(storage)
    spec = SweepSpec(TrainConfig(data="."), ())
    spec.storage, spec.study = storage, name
    attrs = load_existing(spec, opened).user_attrs
    if not attrs.get(READY):
        raise UserError(f"the study {name!r} in {opened.public} is not a gender-desktop sweep")
    try:
        spec.base = TrainConfig.from_dict(attrs.get("base"))
        spec.space = parse_space(attrs.get("space") or [])
    except ConfigError as exc:
        raise UserError(
            f"the study {name!r} holds settings this version cannot read: {exc}"
        ) from exc
    spec.sampler = str(attrs.get("sampler", "grid"))
    spec.trials = attrs.get("trials") if spec.sampler != "grid" else None
    spec.metric = str(attrs.get("metric", "val_loss"))
    spec.pruner = str(attrs.get("pruner", "none"))
    return spec


def _initialise(study: optuna.Study, spec: SweepSpec) -> None:
    for key, value in describe_sweep(spec).items():
        study.set_user_attr(key, value)
    if spec.sampler == "grid":
        for i, params in enumerate(grid_points(spec.space)):
            study.enqueue_trial(params, user_attrs={POINT: i})
    study.set_user_attr(READY, True)


def describe_sweep(spec: SweepSpec) -> dict[str, Any]:
    """What the study stores about its sweep (the runs table and the GUI read it too)."""
    return {
        "app": "gender-desktop",
        "space": spec.space_texts(),
        "sampler": spec.sampler,
        "trials": spec.trials if spec.sampler != "grid" else count_runs(spec),
        "metric": spec.metric,
        "pruner": spec.pruner,
        "base": spec.base.to_dict(),
    }


def _wait_ready(study: optuna.Study, wait_s: float) -> None:
    """The creating worker enqueues the grid before it marks the study ready; a worker that
    joins in between waits rather than finding nothing to do."""
    deadline = time.monotonic() + wait_s
    while not study.user_attrs.get(READY):
        if time.monotonic() > deadline:
            raise UserError(
                f"the study {study.study_name!r} exists but is not a ready gender-desktop sweep "
                "(another worker may have stopped while creating it); use another --study name"
            )
        time.sleep(0.2)


def check_same_sweep(study: optuna.Study, spec: SweepSpec) -> None:
    """A worker joining with another space, sampler, metric or base settings would mix two
    experiments in one study: refused, saying what differs."""
    attrs = study.user_attrs
    mine = describe_sweep(spec)
    differences = [
        f"{key}: {_show(attrs.get(key))} in the study, {_show(mine[key])} here"
        for key in ("space", "sampler", "trials", "metric")
        if attrs.get(key) != mine[key]
    ]
    theirs = _flat(attrs.get("base") or {})
    ours = _flat(mine["base"])
    for key in sorted(set(theirs) | set(ours)):
        if key.split(".")[0] in spec.local or theirs.get(key) == ours.get(key):
            continue
        differences.append(
            f"{key}: {_show(theirs.get(key))} in the study, {_show(ours.get(key))} here"
        )
    if differences:
        raise UserError(
            f"the study {study.study_name!r} runs another sweep ("
            + "; ".join(differences[:6])
            + "); run the same sweep to join it, or give another --study name"
        )


def _flat(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = list(value) if isinstance(value, tuple) else value
    return out


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value)) or "(none)"
    return str(value)


def make_sampler(spec: SweepSpec, offset: int = 0) -> optuna.samplers.BaseSampler:
    """Random or TPE, seeded with the sweep's seed plus the trials the study already has: a
    fresh sweep is reproducible, and a resumed one does not draw its first values again. A
    grid's trials are all enqueued, so its sampler never chooses a value."""
    seed = spec.seed + offset
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """The pruner on the validation metric reported each epoch. The median pruner starts
    after 2 trials ended, not Optuna's 5: the sweeps here are small (the notebooks' grid has 6
    runs) and with 5 it would prune nothing. Hyperband's budget is the epochs."""
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs(spec))
    return optuna.pruners.NopPruner()


def max_epochs(spec: SweepSpec) -> int:
    epochs = [spec.base.epochs]
    for p in spec.space:
        if p.key == "epochs":
            epochs += [int(p.high)] if p.is_range else [int(v) for v in p.values]
    return max(epochs)


def reclaim_interrupted(study: optuna.Study, storage: Storage) -> None:
    """Trials still RUNNING whose worker was a process of this machine that is gone (killed,
    crashed) are failed as ``interrupted`` and their values enqueued again. Workers on other
    machines are left alone: this one cannot tell whether they live."""
    host = socket.gethostname()
    with storage.pop_lock():
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            name, _, pid = str(trial.user_attrs.get(WORKER, "")).rpartition(":")
            if name != host or not pid.isdigit() or pid_alive(int(pid)) is not False:
                continue
            try:  # no state attribute: the trials table reads it as interrupted
                study.tell(trial.number, state=TrialState.FAIL)
            except (RuntimeError, ValueError):  # another worker reclaimed it first
                continue
            requeue(study, trial)


def requeue(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Enqueue a trial's values again (a stopped or interrupted trial runs again later)."""
    params = trial.params or trial.system_attrs.get("fixed_params") or {}
    attrs = {k: trial.user_attrs[k] for k in (POINT,) if k in trial.user_attrs}
    run_dir = trial.user_attrs.get(RUN_DIR)
    if run_dir:
        attrs[RESUME] = run_dir  # the run folder to resume, where it is on this disk
    study.enqueue_trial(params, user_attrs=attrs)
