"""``gender-desktop train``: the training engine in a terminal, writing the same run folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gender_desktop.cli.guard import ctrl_c_sets
from gender_desktop.cli.options import DefaultsHelp
from gender_desktop.cli.output import ProgressLine
from gender_desktop.errors import EXIT_INTERRUPTED, EXIT_OK, UserError
from gender_desktop.ml import backbones
from gender_desktop.ml.config import (
    BEST_METRICS,
    FIT_ON,
    OPTIMIZERS,
    POOLINGS,
    SCHEDULES,
    AugmentConfig,
    ModelConfig,
    TrainConfig,
)

_D = TrainConfig(data="")  # the engine's own defaults: the CLI and the form show the same
DEFAULTS = {
    **{k: v for k, v in _D.to_dict().items() if not isinstance(v, dict)},
    **{k: v for k, v in _D.model.__dict__.items() if k != "hidden"},
    "hidden": ",".join(str(h) for h in _D.model.hidden),
}


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
    m = p.add_argument_group("model")
    m.add_argument(
        "--backbone",
        default=DEFAULTS["backbone"],
        choices=backbones.NAMES,
        help="the network under the head (resnet18 and mobilenet_v2 suit CPUs; levi_hassner "
        "is Levi & Hassner's small CNN, random weights only)",
    )
    m.add_argument(
        "--scope",
        help="what trains: head, last_block, all, or from:<block> (e.g. from:block4) "
        f"(default: {DEFAULTS['scope']}; all for a backbone without ImageNet weights)",
    )
    m.add_argument(
        "--pooling",
        default=DEFAULTS["pooling"],
        choices=POOLINGS,
        help="how the last feature map becomes a vector: average, max, or flattened",
    )
    m.add_argument(
        "--hidden",
        default=DEFAULTS["hidden"],
        help="hidden layer sizes of the head, comma-separated ('' for none)",
    )
    m.add_argument(
        "--dropout",
        type=float,
        default=DEFAULTS["dropout"],
        help="dropout after each hidden layer of the head",
    )
    m.add_argument(
        "--input-size",
        type=int,
        help=f"pixels (default: the backbone's own, {DEFAULTS['input_size']} for most, 227 "
        "for levi_hassner)",
    )
    m.add_argument(
        "--weights",
        help="imagenet, random, file:<path.pth> or run:<run folder> "
        f"(default: {DEFAULTS['weights']}; random for a backbone without ImageNet weights)",
    )
    o = p.add_argument_group("optimisation")
    o.add_argument(
        "--optimizer",
        default=DEFAULTS["optimizer"],
        choices=OPTIMIZERS,
        help="SGD with momentum, Adam or AdamW",
    )
    o.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="learning rate")
    o.add_argument("--momentum", type=float, default=DEFAULTS["momentum"], help="SGD momentum")
    o.add_argument(
        "--weight-decay",
        type=float,
        default=DEFAULTS["weight_decay"],
        help="L2 penalty on the trained weights",
    )
    o.add_argument(
        "--batch-size", type=int, default=DEFAULTS["batch_size"], help="images per training step"
    )
    o.add_argument(
        "--epochs", type=int, default=DEFAULTS["epochs"], help="passes over the train split"
    )
    o.add_argument(
        "--schedule",
        default=DEFAULTS["schedule"],
        choices=SCHEDULES,
        help="learning-rate schedule: none, step (every --step-size epochs), cosine, or reduce on val-loss plateau",
    )
    o.add_argument("--step-size", type=int, default=DEFAULTS["step_size"], help="epochs per step")
    o.add_argument(
        "--gamma", type=float, default=DEFAULTS["gamma"], help="lr factor (step, plateau)"
    )
    o.add_argument(
        "--patience",
        type=int,
        default=DEFAULTS["patience"],
        help="early stopping after this many epochs without a better --best-metric (0: off)",
    )
    o.add_argument(
        "--best-metric",
        default=DEFAULTS["best_metric"],
        choices=BEST_METRICS,
        help="which epoch best.pt keeps (and early stopping watches): the lowest val loss or "
        "the highest val accuracy",
    )
    o.add_argument(
        "--fit-on",
        default=DEFAULTS["fit_on"],
        choices=FIT_ON,
        help="train+val: also train on the val split (a final model; the last epoch is kept)",
    )
    o.add_argument(
        "--seed",
        type=int,
        default=DEFAULTS["seed"],
        help="makes a run reproducible on the same device",
    )
    a = p.add_argument_group("augmentation (train split only)")
    a.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    aug = _D.augment
    a.add_argument("--rotation", type=float, default=aug.rotation, help="max rotation, degrees")
    a.add_argument("--zoom", type=float, default=aug.zoom, help="max zoom in/out as a fraction")
    a.add_argument(
        "--brightness", type=float, default=aug.brightness, help="max brightness change, fraction"
    )
    r = p.add_argument_group("running")
    r.add_argument(
        "--device",
        default=DEFAULTS["device"],
        choices=["auto", "cpu", "cuda", "mps"],
        help="auto picks CUDA, then Apple MPS, then CPU",
    )
    r.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    r.add_argument(
        "--workers", type=int, default=_D.workers, help="decode processes (0: one per core)"
    )
    r.add_argument(
        "--no-feature-cache",
        action="store_true",
        help="head only: run the frozen backbone every epoch instead of once",
    )
    t = r.add_mutually_exclusive_group()
    t.add_argument(
        "--track",
        metavar="NAMES",
        help="experiment trackers, comma-separated: tensorboard (event files in the run "
        "folder), wandb, mlflow (default: tensorboard when it is installed)",
    )
    t.add_argument("--no-track", action="store_true", help="no tracker, not even TensorBoard")
    r.add_argument("--name", default="", help="run name (default: backbone and scope)")
    r.add_argument("--runs-dir", type=Path, help="where run folders go (default: app data)")
    r.add_argument("--json", action="store_true", help="print the final metrics as one JSON object")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
    entry = backbones.get(args.backbone)  # its own defaults for what was not given
    weights = args.weights or entry.default_weights
    scope = args.scope or entry.default_scope
    input_size = args.input_size or entry.default_input_size
    for prefix in ("file:", "run:"):  # saved resolved, so --resume works from anywhere
        if weights.startswith(prefix):
            given = weights.removeprefix(prefix)
            try:
                weights = prefix + str(Path(given).expanduser().resolve())
            except (RuntimeError, OSError) as exc:  # a symbolic link loop
                raise UserError(f"--weights: cannot follow this path ({exc})", given) from exc
    return TrainConfig(
        data=str(Path(args.data).expanduser().resolve()),
        model=ModelConfig(args.backbone, args.pooling, hidden, args.dropout, scope, input_size),
        augment=AugmentConfig(not args.no_flip, args.rotation, args.zoom, args.brightness),
        weights=weights,
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        epochs=args.epochs,
        schedule=args.schedule,
        step_size=args.step_size,
        gamma=args.gamma,
        patience=args.patience,
        best_metric=args.best_metric,
        fit_on=args.fit_on,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        workers=args.workers,
        feature_cache=not args.no_feature_cache,
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
            self.line.show(
                f"ep {event.epoch} [{bar}] {event.batch}/{event.batches} loss {event.loss:.4f} "
                f"{event.images_per_second:,.0f} img/s ETA {event.eta_seconds:,.0f}s",
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
    if not args.data:
        raise UserError("--data PATH is required (or --resume RUN_DIR)")
    try:
        config = config_from_args(args)
        config.validate()
    except ValueError as exc:  # an option out of range, or --hidden not a list of numbers
        raise UserError(str(exc)) from exc
    if not Path(args.data).expanduser().exists():  # before a run folder is made for it
        raise UserError(f"{args.data}: no such file or folder")
    return config


def resume_settings(folder: Path) -> TrainConfig:
    """The settings saved in ``folder``'s config.json, checked by the run folder itself (the
    one reader every command and panel uses): a folder that cannot be resumed is a message
    naming the folder or the file."""
    from gender_desktop.runs.folder import RunFolder

    return RunFolder(folder).train_config()


def tracker_names(args: argparse.Namespace) -> list[str] | None:
    """The trackers --track / --no-track ask for (None: the default, TensorBoard if installed)."""
    from gender_desktop.ml.trackers import parse_names

    if args.no_track:
        return []
    return parse_names(args.track) if args.track is not None else None


def run(args: argparse.Namespace) -> int:
    """Train (or resume) and print the summary; Ctrl+C stops after the current batch with
    last.pt written, exit 130 and the command that continues."""
    from gender_desktop.ml.trackers import with_trackers
    from gender_desktop.ml.trainer import Control, Trainer
    from gender_desktop.runs.folder import RunFolder

    config = settings(args)
    track = tracker_names(args)
    callback = with_trackers(TrainProgress(args.json), track)  # a missing library: exit 2 here
    if args.resume:
        run_folder = RunFolder(Path(args.resume).expanduser())
    else:
        name = args.name or f"{config.model.backbone}-{config.model.scope.replace(':', '-')}"
        run_folder = RunFolder.create(name, args.runs_dir)
    control = Control()
    with ctrl_c_sets(control.stop):
        summary = Trainer(config, run=run_folder, callback=callback, control=control).run(
            resume=bool(args.resume)
        )
    summary.pop("history", None)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        acc, folder = summary["best_val_accuracy"], summary["run_dir"]
        print(f"run folder: {folder}" if folder else "no run folder (stopped before it was made)")
        print(f"best val accuracy: {acc:.4f}" if acc is not None else "no complete epoch")
        print(
            f"epochs: {summary['epochs']} · {summary['train_seconds']:.1f} s on {summary['device']}"
        )
        if summary["stopped"] and folder:
            print(f"stopped; continue with: gender-desktop train --resume {folder}")
        elif summary["stopped"]:
            print("stopped before the first epoch: nothing to resume")
    return EXIT_INTERRUPTED if summary["stopped"] else EXIT_OK
