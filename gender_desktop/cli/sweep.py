"""``gender-desktop sweep``: many runs of one configuration on Optuna, from one command line.

The training options give the base settings (the same definitions as ``train``); ``--grid``
gives what varies. The study in the storage is the record: the same command run again
continues a stopped sweep, and run on other machines against one storage it joins the sweep.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from gender_desktop.cli.guard import ctrl_c_sets
from gender_desktop.cli.options import DefaultsHelp
from gender_desktop.cli.output import say
from gender_desktop.cli.train import TrainProgress
from gender_desktop.cli.training_options import add_training_options, checked_config, tracker_names
from gender_desktop.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USER
from gender_desktop.sweeps.space import KEYS, describe, format_value, parse_space
from gender_desktop.sweeps.spec import METRIC_TITLES, METRICS, PRUNERS, SAMPLERS, SweepSpec

RESUME_HINT = "run the same command again to continue"


class _Help(DefaultsHelp, argparse.RawDescriptionHelpFormatter):
    """Option defaults, and the key table in the epilog as written."""


def _keys_epilog() -> str:
    width = max(len(k) for k in KEYS)
    lines = [f"  {k.name:<{width}}  {k.help}; e.g. {k.example}" for k in KEYS.values()]
    return (
        "space keys (--grid key=values: a list a,b,c, or for numbers a range low:high with\n"
        ":log and/or :int, which the random and TPE samplers draw from):\n"
        + "\n".join(lines)
        + "\n\n"
        "Example: gender-desktop sweep --data celeba/ --scope head --no-flip "
        "--grid lr=1e-3,1e-4 batch=32,64,128"
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "sweep",
        help="train many configurations (grid, random or TPE on Optuna) and compare them",
        description="Train every configuration of a space (or a number of sampled ones) as "
        "ordinary run folders tagged with their sweep. The study is kept in a storage (by "
        "default a SQLite file in the app data): Ctrl+C stops the running trial, and the same "
        "command run again continues; the same command with --storage and --study on other "
        "machines joins the sweep. The best trial is chosen on validation; test numbers are "
        "shown but not used for the choice.",
        epilog=_keys_epilog(),
        formatter_class=_Help,
    )
    p.add_argument(
        "--data", required=True, help="dataset folder, annotation file or .zip (any layout)"
    )
    s = p.add_argument_group("sweep")
    s.add_argument(
        "--grid",
        "--space",
        dest="space",
        nargs="+",
        required=True,
        metavar="KEY=VALUES",
        help="what varies, e.g. lr=1e-3,1e-4 batch=32,64,128 scope=head,last_block (keys below)",
    )
    s.add_argument("--sampler", default="grid", choices=SAMPLERS, help="how trials are chosen")
    s.add_argument("--trials", type=int, help="trials in the study in all (random and tpe)")
    s.add_argument(
        "--prune",
        default="none",
        choices=PRUNERS,
        help="end trials that are clearly behind, on the val metric of each epoch",
    )
    s.add_argument(
        "--metric",
        default="val_loss",
        choices=tuple(METRICS),
        help="what chooses the best trial: val loss (lower) or val accuracy at the best epoch",
    )
    s.add_argument(
        "--storage",
        metavar="URL",
        help="an Optuna storage: sqlite:///file.db, postgresql://..., mysql://..., or "
        "journal:/shared/disk/file.log (default: sweeps.db in the app data)",
    )
    s.add_argument(
        "--study",
        metavar="NAME",
        help="the study to create or join (default: the dataset's name and a hash of the sweep)",
    )
    s.add_argument(
        "--devices",
        metavar="all|0,2",
        help="one trial per GPU at a time: a worker process per GPU (all of them, or these "
        "numbers), each pinned to its device with CUDA_VISIBLE_DEVICES; refused without a CUDA "
        "GPU (default: one trial at a time on --device)",
    )
    s.add_argument(
        "--worker-trials",
        type=int,
        metavar="N",
        help="this worker (each GPU's, with --devices) runs at most N trials, then ends; the "
        "study goes on with the other workers (a machine's share)",
    )
    s.add_argument(
        "--retrain-best",
        action="store_true",
        help="afterwards, train the best trial's settings on train + val and evaluate once on test",
    )
    r = add_training_options(p)
    r.add_argument("--runs-dir", type=Path, help="where run folders go (default: app data)")
    r.add_argument("--json", action="store_true", help="print the sweep's summary as JSON")


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    """The sweep the options describe, checked before anything is created (exit 2)."""
    space = parse_space(args.space)
    spec = SweepSpec(
        base=checked_config(args),
        space=space,
        sampler=args.sampler,
        trials=args.trials,
        pruner=args.prune,
        storage=args.storage,
        study=args.study,
        metric=args.metric,
        seed=args.seed,
    )
    spec.validate()
    return spec


class SweepProgress:
    """One line per trial as it starts and ends (stdout; stderr with ``--json``), the
    trainer's batch bar on the progress line; the epochs' log lines stay in each run's
    log.txt."""

    def __init__(self, quiet: bool, metric: str) -> None:
        self.out: TextIO = sys.stderr if quiet else sys.stdout
        self.metric = METRIC_TITLES[metric]
        self.bar = TrainProgress(quiet)

    def __call__(self, event: Any) -> None:
        from gender_desktop.ml.events import LogLine
        from gender_desktop.sweeps.events import SweepStarted, TrialEnded, TrialStarted

        if isinstance(event, SweepStarted):
            self._print(
                f"study {event.study} in {event.storage}: {event.total} runs"
                + (f", {event.done} already done" if event.done else "")
            )
        elif isinstance(event, TrialStarted):
            self._print(
                f"trial {event.index}/{event.total} (#{event.number}): {describe(event.params)}"
            )
        elif isinstance(event, TrialEnded):
            text = f"  {event.state}"
            if event.value is not None:
                text += f": {self.metric} {event.value:.4f}"
            if event.message and event.state != "finished":
                text += f": {event.message}"
            if event.run_dir:
                text += f" · {event.run_dir}"
            self._print(text)
        elif not isinstance(event, LogLine):
            self.bar(event)

    def _print(self, text: str) -> None:
        self.bar.line.clear()
        print(text, file=self.out, flush=True)


class DeviceProgress:
    """The workers of ``--devices``: each one's trial lines prefixed with its GPU
    (``[gpu 1] trial 3/8 …``) and its messages on stderr the same way. The study's first
    line is the parent's own (each worker would repeat it)."""

    def __init__(self, quiet: bool, metric: str) -> None:
        self.progress = SweepProgress(quiet, metric)

    def __call__(self, device: str, item: Any) -> None:
        from gender_desktop.sweeps.events import SweepEnded, SweepStarted

        if isinstance(item, str):
            print(f"[gpu {device}] {item}", file=sys.stderr, flush=True)
        elif not isinstance(item, SweepStarted | SweepEnded):
            saved = self.progress.out
            self.progress.out = _Prefixed(saved, f"[gpu {device}] ")
            try:
                self.progress(item)
            finally:
                self.progress.out = saved


class _Prefixed:
    """A text stream that puts ``prefix`` before each line written to it."""

    def __init__(self, out: TextIO, prefix: str) -> None:
        self.out, self.prefix = out, prefix

    def write(self, text: str) -> int:
        lines = text.split("\n")
        body = "\n".join(self.prefix + line if line else line for line in lines)
        return self.out.write(body)

    def flush(self) -> None:
        self.out.flush()


def trials_text(summary: Any) -> str:
    """The trials as a table, best first; the best marked; test numbers marked as not used."""
    keys = sorted({k for r in summary.trials for k in r.params}, key=list(KEYS).index)
    header = ["", "trial", "state", *keys, "val loss", "val acc", "test acc†", "s", "run"]
    rows = [header]
    best = summary.best.number if summary.best else None
    for r in summary.trials:
        test = (r.test or {}).get("accuracy")
        rows.append(
            [
                "*" if r.number == best else "",
                f"#{r.number}",
                r.state,
                *(format_value(r.params.get(k, ""), short=True) for k in keys),
                _num(r.val_loss),
                _num(r.val_accuracy),
                _num(test),
                f"{r.seconds:.0f}" if r.seconds is not None else "",
                Path(r.run_dir).name if r.run_dir else "",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    metric = METRIC_TITLES.get(summary.metric, summary.metric)
    lines.append(f"* best on {metric} · † {summary.note}")
    return "\n".join(lines)


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else ""


def run(args: argparse.Namespace) -> int:
    from gender_desktop.ml.events import Control
    from gender_desktop.ml.trackers import with_trackers
    from gender_desktop.sweeps.runner import retrain_best, run_sweep

    if args.worker_trials is not None and args.worker_trials < 1:
        from gender_desktop.errors import UserError

        raise UserError(f"--worker-trials must be 1 or more, not {args.worker_trials}")
    spec = spec_from_args(args)
    track = tracker_names(args)
    with_trackers(None, track)  # an unknown or missing tracker: exit 2 before any trial
    control = Control()
    progress = SweepProgress(args.json, spec.metric)
    with ctrl_c_sets(control.stop):
        if args.devices:
            summary, failed = _sweep_on_devices(args, spec, control, track)
            if failed:
                return failed
        else:
            summary = run_sweep(
                spec,
                args.runs_dir,
                progress,
                control,
                track=track,
                worker_trials=args.worker_trials,
            )
        final = None
        if args.retrain_best and not summary.stopped and summary.best is not None:
            progress._print(f"retraining trial #{summary.best.number} on train + val")
            final = retrain_best(spec, args.runs_dir, progress.bar, control, track=track)
    if args.json:
        data = summary.to_dict()
        if final is not None:
            data["final"] = {k: v for k, v in final.items() if k != "history"}
        print(json.dumps(data, indent=2, default=str))
    else:
        print(trials_text(summary))
        print(f"study: {summary.study} in {summary.storage}")
        if final is not None:
            _print_final(final, summary.best.number)
    if summary.stopped or (final is not None and final.get("stopped")):
        say("sweep", f"stopped; {RESUME_HINT}")
        return EXIT_INTERRUPTED
    if summary.best is None and summary.counts.get("failed"):
        say("sweep", "error: no trial finished (each one's message is above)")
        return EXIT_USER
    return EXIT_OK


def _sweep_on_devices(
    args: argparse.Namespace, spec: SweepSpec, control: Any, track: Any
) -> tuple[Any, int]:
    """``--devices``: one worker process per GPU on the study; the study's summary, and the
    exit code of a failed worker (0: none failed)."""
    from gender_desktop.errors import EXIT_INTERNAL, UserError
    from gender_desktop.sweeps.devices import pinned_devices
    from gender_desktop.sweeps.parallel import sweep_on_devices

    devices = pinned_devices(args.devices)
    if spec.base.device not in ("auto", "cuda"):
        raise UserError(
            f"--devices pins each worker to one GPU; --device {spec.base.device} contradicts it"
        )
    out = sys.stderr if args.json else sys.stdout
    print(
        f"study {spec.study_name()}: one trial per GPU on {len(devices)} GPU(s) "
        f"(CUDA_VISIBLE_DEVICES {', '.join(devices)})",
        file=out,
        flush=True,
    )
    done = sweep_on_devices(
        spec,
        devices,
        args.runs_dir,
        DeviceProgress(args.json, spec.metric),
        control,
        track,
        worker_trials=args.worker_trials,
    )
    failed = done.failed()
    if failed:
        print(trials_text(done.summary), file=out)
        which = ", ".join(f"gpu {d} (exit {c})" for d, c in failed.items())
        say("sweep", f"error: the worker on {which} failed (its message is above)")
        return done.summary, EXIT_INTERNAL if EXIT_INTERNAL in failed.values() else EXIT_USER
    return done.summary, 0


def _print_final(final: dict[str, Any], number: int) -> None:
    test = final.get("test") or {}
    scores = " · ".join(
        f"{k} {test[k]:.4f}"
        for k in ("accuracy", "precision", "recall", "f1")
        if test.get(k) is not None
    )
    print(f"final model (trial #{number} retrained on train + val): {final.get('run_dir')}")
    print(f"test ({test.get('n', 0):,} images, evaluated once): {scores or 'no test split'}")
