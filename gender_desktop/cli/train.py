"""``gender-desktop train``: the training engine in a terminal, writing the same run folder."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gender_desktop.cli.guard import ctrl_c_sets
from gender_desktop.cli.options import DefaultsHelp
from gender_desktop.cli.output import ProgressLine
from gender_desktop.cli.training_options import (
    add_training_options,
    checked_config,
    tracker_names,
)
from gender_desktop.durations import duration_text
from gender_desktop.errors import EXIT_INTERRUPTED, EXIT_OK, UserError
from gender_desktop.ml.config import TrainConfig


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "train",
        help="train a classifier headless (same engine and run folder as the app)",
        description="Train a Male/Female classifier on a dataset and write a run folder "
        "(config.json, metrics.csv, best.pt, last.pt, log.txt). Ctrl+C stops after the "
        "current batch; --resume continues an interrupted run exactly.",
        formatter_class=DefaultsHelp,
    )
    p.add_argument("--data", help="dataset folder, annotation file or .zip (any supported layout)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from last.pt")
    r = add_training_options(p)
    r.add_argument("--name", default="", help="run name (default: backbone and scope)")
    r.add_argument("--runs-dir", type=Path, help="where run folders go (default: app data)")
    r.add_argument("--json", action="store_true", help="print the final metrics as one JSON object")
    d = p.add_argument_group("several GPUs or machines (under torchrun)")
    d.add_argument(
        "--ddp",
        action="store_true",
        help="one process per device under torchrun (python -m torch.distributed.run "
        "--nproc_per_node N -m gender_desktop train ... --ddp): DistributedDataParallel, "
        "NCCL on CUDA, gloo on CPU; --batch-size is per process",
    )
    d.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="the settings as JSON (a run's config.json, or its settings object) instead of "
        "the options",
    )
    d.add_argument(
        "--run-dir", type=Path, help="write the run into exactly this new folder (launchers)"
    )
    d.add_argument(
        "--control",
        type=Path,
        metavar="FILE",
        help="a file whose word stops (stop) or pauses (pause, run) the run between batches",
    )
    d.add_argument(
        "--events", type=Path, metavar="FILE", help="append every event as a JSON line (rank 0)"
    )


class TrainProgress:
    """The trainer's events on the terminal: a batch bar and the phases on the one progress
    line (stderr, only on a terminal), and each epoch's log line on stdout (stderr with
    ``--json``, so stdout holds nothing but the JSON object)."""

    BAR = 28

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.line = ProgressLine()

    def __call__(self, event: Any) -> None:
        from gender_desktop.ml.events import BatchEnd, EpochEnd, LogLine, PhaseProgress

        if isinstance(event, BatchEnd):
            filled = int(self.BAR * event.batch / event.batches)
            bar = "#" * filled + "." * (self.BAR - filled)
            of = f"/{event.epochs}" if event.epochs else ""
            self.line.show(
                f"ep {event.epoch}{of} [{bar}] {event.batch}/{event.batches} loss {event.loss:.4f} "
                f"{event.images_per_second:,.0f} img/s · {duration_text(event.run_eta_seconds)} "
                "left",
                final=event.batch == event.batches,
                key="batches",
            )
        elif isinstance(event, PhaseProgress):
            self.line(event.done, event.total, event.message)
        elif isinstance(event, EpochEnd | LogLine):
            self.line.clear()
            if isinstance(event, LogLine):
                print(event.message, file=sys.stderr if self.quiet else sys.stdout, flush=True)


def settings(args: argparse.Namespace) -> TrainConfig:
    """The settings to run: the interrupted run's own for --resume, else the options,
    validated before anything is written."""
    if args.resume:
        return resume_settings(Path(args.resume).expanduser())
    if args.settings:
        return settings_file(args.settings.expanduser())
    if not args.data:
        raise UserError("--data PATH is required (or --resume RUN_DIR)")
    return checked_config(args)


def resume_settings(folder: Path) -> TrainConfig:
    """The settings saved in ``folder``'s config.json, checked by the run folder itself (the
    one reader every command and panel uses): a folder that cannot be resumed is a message
    naming the folder or the file."""
    from gender_desktop.runs.folder import RunFolder

    return RunFolder(folder).train_config()


def settings_file(path: Path) -> TrainConfig:
    """The settings in ``path``: a run's config.json (its ``settings``) or the settings
    object alone, checked as a run folder's are."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read the settings ({exc.strerror or exc})", path) from exc
    except ValueError as exc:
        raise UserError(f"the settings are not JSON ({exc})", path) from exc
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    try:
        config = TrainConfig.from_dict(data)
        config.validate()
    except ValueError as exc:
        raise UserError(f"the settings are not usable: {exc}", path) from exc
    return config


def run(args: argparse.Namespace) -> int:
    """Train (or resume) and print the summary; Ctrl+C stops after the current batch with
    last.pt written, exit 130 and the command that continues."""
    from gender_desktop.ml.trackers import with_trackers
    from gender_desktop.ml.trainer import Control, Trainer
    from gender_desktop.runs.folder import RunFolder

    config = settings(args)
    names = tracker_names(args)
    if args.resume:
        run_folder = RunFolder(Path(args.resume).expanduser())
    elif args.run_dir:
        folder = args.run_dir.expanduser()
        if folder.is_dir() and any(folder.iterdir()):  # another run's: never written into
            raise UserError("--run-dir: this folder already holds files (--resume it?)", folder)
        run_folder = RunFolder(folder)
    else:
        name = args.name or f"{config.model.backbone}-{config.model.scope.replace(':', '-')}"
        run_folder = RunFolder.create(name, args.runs_dir)
    control = Control()
    with ctrl_c_sets(control.stop), _distributed(args, config) as ddp:
        main = ddp is None or ddp.is_main
        # Under DDP rank 0 alone reports (and runs the trackers); the others only fail aloud.
        callback = with_trackers(TrainProgress(args.json), names) if main else _silent
        events = args.events if main else None
        with _event_file(events, callback) as callback, _control_file(args.control, control):
            trainer = Trainer(config, run_folder, callback, control, ddp=ddp)
            summary = trainer.run(resume=bool(args.resume))
    summary.pop("history", None)
    if not main:
        # 0 even after an agreed stop: torchrun takes any other code for a failure and would
        # end rank 0 while it writes status.json (rank 0's own code says "stopped")
        return EXIT_OK
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        acc, folder = summary["best_val_accuracy"], summary["run_dir"]
        print(f"run folder: {folder}" if folder else "no run folder (stopped before it was made)")
        print(f"best val accuracy: {acc:.4f}" if acc is not None else "no complete epoch")
        print(
            f"epochs: {summary['epochs']} · {duration_text(summary['train_seconds'])} on {summary['device']}"
        )
        if summary["stopped"] and folder:
            print(f"stopped; continue with: gender-desktop train --resume {folder}")
        elif summary["stopped"]:
            print("stopped before the first epoch: nothing to resume")
    return EXIT_INTERRUPTED if summary["stopped"] else EXIT_OK


def _silent(event: Any) -> None:
    """The events of ranks other than 0: rank 0 reports the run."""


@contextmanager
def _distributed(args: argparse.Namespace, config: TrainConfig) -> Iterator[Any]:
    """With ``--ddp``: this process's place in the torchrun run (ml/distributed.py), left
    when the run ends; else None."""
    if not args.ddp:
        yield None
        return
    from gender_desktop.ml import distributed
    from gender_desktop.ml.trainer import resolve_device

    context = distributed.start(resolve_device(config.device))
    try:
        yield context
    finally:
        context.close()


@contextmanager
def _event_file(path: Path | None, callback: Any) -> Iterator[Any]:
    """``callback``, also writing every event to ``path`` as a JSON line (a launcher reads it)."""
    if path is None:
        yield callback
        return
    from gender_desktop.ml.launcher import EventWriter

    writer = EventWriter(path)

    def both(event: Any) -> None:
        writer(event)
        callback(event)

    try:
        yield both
    finally:
        writer.close()


@contextmanager
def _control_file(path: Path | None, control: Any) -> Iterator[None]:
    """Stop and Pause from ``path``'s word while the run trains (``--control``)."""
    if path is None:
        yield
        return
    import threading

    from gender_desktop.ml.launcher import watch_control

    done = threading.Event()
    thread = watch_control(path, control, done)
    try:
        yield
    finally:
        done.set()
        thread.join()
