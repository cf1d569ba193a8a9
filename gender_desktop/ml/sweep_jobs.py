"""The sweep requests the GUI sends its child processes (``ml/service.py`` dispatches here).

A sweep runs in the training child like a training does (``sweep``), one trial at a time, its
trainer and sweep events forwarded as ``event`` replies; retraining a study's best
(``sweep_retrain``) is one more training there. Reading studies (``sweep_studies``,
``sweep_results``) needs Optuna and the database driver but no torch: the results view sends
them to a child of its own, so they never wait behind a running sweep and Optuna never loads
into the GUI process.

A :class:`~gender_desktop.sweeps.spec.SweepSpec` crosses the process boundary as a plain dict
(:func:`spec_to_dict`): the space as its canonical spec texts, which parse back to the same
values. A study records its own sweep (space, sampler, base settings: ``describe_sweep``), so
:func:`spec_of_study` rebuilds the spec from the storage alone, for the Sweeps menu's studies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gender_desktop.errors import UserError
from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.events import BatchEnd, Control
from gender_desktop.sweeps.space import parse_space
from gender_desktop.sweeps.spec import SweepSpec

BATCH_INTERVAL_S = 0.05  # batch events, at most about 20 a second (as for a training)


def spec_to_dict(spec: SweepSpec) -> dict[str, Any]:
    return {
        "base": spec.base.to_dict(),
        "space": spec.space_texts(),
        "sampler": spec.sampler,
        "trials": spec.trials,
        "pruner": spec.pruner,
        "storage": spec.storage,
        "study": spec.study,
        "metric": spec.metric,
        "seed": spec.seed,
    }


def spec_from_dict(data: dict[str, Any]) -> SweepSpec:
    return SweepSpec(
        base=TrainConfig.from_dict(data["base"]),
        space=parse_space(data["space"]),
        sampler=data.get("sampler", "grid"),
        trials=data.get("trials"),
        pruner=data.get("pruner", "none"),
        storage=data.get("storage"),
        study=data.get("study"),
        metric=data.get("metric", "val_loss"),
        seed=int(data.get("seed", 0)),
    )


def throttled(send: Callable[[object], None]) -> Callable[[object], None]:
    """``send`` with batch events thinned to about 20 a second (the last of an epoch kept)."""
    last = [0.0]

    def callback(event: object) -> None:
        if isinstance(event, BatchEnd):
            now = time.monotonic()
            if now - last[0] < BATCH_INTERVAL_S and event.batch != event.batches:
                return
            last[0] = now
        send(event)

    return callback


def run(args: dict[str, Any], send: Callable[[object], None], control: Control) -> dict[str, Any]:
    """``sweep`` {spec, runs_dir}: run the sweep to its end or its stop; the study's summary."""
    from gender_desktop.sweeps.runner import run_sweep

    spec = spec_from_dict(args["spec"])
    runs_dir = Path(args["runs_dir"]) if args.get("runs_dir") else None
    if args.get("per_gpu"):
        summary = _per_gpu(spec, runs_dir, send, control)
    else:
        summary = run_sweep(spec, runs_dir, throttled(send), control)
    return summary.to_dict() | {"storage_url": spec.storage or ""}


def _per_gpu(
    spec: SweepSpec, runs_dir: Path | None, send: Callable[[object], None], control: Control
) -> Any:
    """``sweep`` with ``per_gpu``: a worker process per visible GPU (sweeps/parallel.py); their
    sweep events go to the GUI as they are, their messages as log lines naming the GPU."""
    from gender_desktop.ml.events import LogLine
    from gender_desktop.sweeps.devices import pinned_devices
    from gender_desktop.sweeps.events import SweepEnded, SweepStarted
    from gender_desktop.sweeps.parallel import sweep_on_devices

    devices = pinned_devices("all")
    send(LogLine(f"one trial per GPU on {len(devices)} GPUs"))
    started: list[bool] = []

    def relay(device: str, item: object) -> None:
        if isinstance(item, str):
            send(LogLine(f"[gpu {device}] {item}"))
        elif isinstance(item, SweepStarted):
            if not started:  # the sweep's first line once, not once per worker
                started.append(True)
                send(item)
        elif not isinstance(item, SweepEnded):  # the sweep ends once all workers have
            send(item)

    done = sweep_on_devices(spec, devices, runs_dir, relay, control)
    failed = done.failed()
    if failed:
        which = ", ".join(f"GPU {d}" for d in failed)
        raise UserError(f"the sweep's worker on {which} failed (its message is in the log)")
    summary = done.summary
    best = summary.best.number if summary.best else None
    send(SweepEnded(summary.study, summary.stopped, best, summary.counts))
    return summary


def spec_of_study(storage_url: str | None, name: str) -> SweepSpec:
    """The sweep a study in ``storage_url`` (None: the app's SQLite file) records about itself."""
    import optuna

    from gender_desktop.sweeps.storage import open_storage

    storage = open_storage(storage_url or None)
    try:
        study = optuna.load_study(study_name=name, storage=storage.optuna)
    except KeyError:
        raise UserError(f"no study {name!r} in {storage.public}") from None
    attrs = study.user_attrs
    if attrs.get("app") != "gender-desktop" or not isinstance(attrs.get("base"), dict):
        raise UserError(f"the study {name!r} in {storage.public} is not a gender-desktop sweep")
    return SweepSpec(
        base=TrainConfig.from_dict(attrs["base"]),
        space=parse_space(attrs.get("space") or []),
        sampler=str(attrs.get("sampler", "grid")),
        trials=attrs.get("trials") if attrs.get("sampler") != "grid" else None,
        pruner=str(attrs.get("pruner", "none")),
        storage=storage_url or None,
        study=name,
        metric=str(attrs.get("metric", "val_loss")),
    )


def retrain(
    args: dict[str, Any], send: Callable[[object], None], control: Control
) -> dict[str, Any]:
    """``sweep_retrain`` {storage, study, runs_dir}: the best trial retrained on train + val,
    evaluated once on test; the trainer's summary."""
    from gender_desktop.sweeps.runner import retrain_best

    spec = spec_of_study(args.get("storage"), args["study"])
    runs_dir = Path(args["runs_dir"]) if args.get("runs_dir") else None
    return retrain_best(spec, runs_dir, throttled(send), control)


def studies(args: dict[str, Any]) -> list[dict[str, Any]]:
    """``sweep_studies`` {storage}: the app's studies in the storage, newest first."""
    import optuna

    from gender_desktop.sweeps.storage import open_storage

    storage = open_storage(args.get("storage") or None)
    out = []
    for s in optuna.get_all_study_summaries(storage.optuna, include_best_trial=False):
        if s.user_attrs.get("app") != "gender-desktop":
            continue
        started = s.datetime_start.strftime("%Y-%m-%d %H:%M") if s.datetime_start else ""
        out.append(
            {
                "study": s.study_name,
                "trials": s.n_trials,
                "space": list(s.user_attrs.get("space") or []),
                "sampler": s.user_attrs.get("sampler", ""),
                "started": started,
            }
        )
    return sorted(out, key=lambda s: s["started"], reverse=True)


def results(args: dict[str, Any]) -> dict[str, Any]:
    """``sweep_results`` {storage, study}: the study's summary (trials best first) with the
    parameter importances, and the storage URL to retrain with."""
    import optuna

    from gender_desktop.sweeps.results import importance, summarise
    from gender_desktop.sweeps.storage import open_storage

    storage = open_storage(args.get("storage") or None)
    try:
        study = optuna.load_study(study_name=args["study"], storage=storage.optuna)
    except KeyError:
        raise UserError(f"no study {args['study']!r} in {storage.public}") from None
    summary = summarise(study, storage.public).to_dict()
    found = importance(study)  # {} for a study too small to say
    return summary | {"importance": found, "storage_url": args.get("storage") or ""}
