"""``gender-desktop cv``: cross-validate one training configuration (k runs, mean ± std)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gender_desktop.cli import train, training_options
from gender_desktop.cli.guard import ctrl_c_sets
from gender_desktop.cli.options import DefaultsHelp
from gender_desktop.durations import duration_text
from gender_desktop.errors import EXIT_INTERRUPTED, EXIT_OK, UserError

METHODS = ("auto", "stratified", "identity", "adience")
LABELS = {
    "best_val_accuracy": "best val accuracy",
    "best_val_loss": "best val loss",
    "val_accuracy_at_best_epoch": "val accuracy at best epoch",
    "test_accuracy": "test accuracy",
    "test_precision": "test precision",
    "test_recall": "test recall",
    "test_f1": "test F1",
    "test_auc": "test AUC",
    "train_seconds": "training time (s)",
}


def _training_options() -> argparse.ArgumentParser:
    """The train command's own parser, as the parent of this one: the same options, defaults
    and help, with no second copy to drift. (Helper h3 is factoring them into
    ``train.add_training_options``; once merged, this can call that instead.)"""
    commands = argparse.ArgumentParser(add_help=False).add_subparsers()
    train.add_parser(commands)
    return commands.choices["train"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "cv",
        parents=[_training_options()],
        conflict_handler="resolve",  # the parent's -h and the options this command redefines
        help="cross-validate a training configuration (k runs, mean and std of each metric)",
        description="Train the configuration once per fold of the train+val images (the test "
        "split stays held out; every fold is evaluated on it) and print each fold and the mean "
        "± standard deviation. Each fold is an ordinary run folder, tagged with its group. "
        "Ctrl+C stops the running fold (kept, resumable with train --resume) and starts no more.",
        formatter_class=DefaultsHelp,
    )
    p.add_argument(
        "--folds",
        type=int,
        help="number of folds (default: 5; an Adience dataset's own folds: as many as it has)",
    )
    p.add_argument(
        "--method",
        default="auto",
        choices=METHODS,
        help="stratified by Male, identity-disjoint (CelebA's identity_CelebA.txt), or "
        "Adience's subject-exclusive folds; auto picks what the dataset has",
    )
    p.add_argument("--resume", help=argparse.SUPPRESS)  # a fold resumes with train --resume
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    from gender_desktop.ml.cross_validation import FoldEnded, FoldStarted, cross_validate
    from gender_desktop.ml.events import Control

    if args.resume:
        raise UserError("cv has no --resume: resume a stopped fold with train --resume RUN_DIR")
    config = train.settings(args)
    progress = train.TrainProgress(args.json)
    out = sys.stderr if args.json else sys.stdout

    def callback(event: Any) -> None:
        if isinstance(event, FoldStarted):
            progress.line.clear()
            print(f"fold {event.fold + 1}/{event.folds}: {event.run_dir}", file=out, flush=True)
        elif isinstance(event, FoldEnded):
            progress.line.clear()
            print(
                f"fold {event.fold + 1}/{event.folds} {event.state}: " + _values(event.values),
                file=out,
                flush=True,
            )
        else:
            progress(event)

    control = Control()
    with ctrl_c_sets(control.stop):
        summary = cross_validate(
            config,
            folds=args.folds,
            method=args.method,
            runs_dir=args.runs_dir,
            callback=callback,
            control=control,
            name=args.name,
            track=training_options.tracker_names(args),
        )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(table(summary))
    return EXIT_OK if summary.complete else EXIT_INTERRUPTED


def _values(values: dict[str, float | None]) -> str:
    parts = [
        f"{LABELS[k]} {v:.4f}"
        for k, v in values.items()
        if v is not None and k in ("best_val_accuracy", "best_val_loss", "test_accuracy")
    ]
    if values.get("train_seconds") is not None:
        parts.append(duration_text(values["train_seconds"]))
    return " · ".join(parts) or "no complete epoch"


def table(summary: Any) -> str:
    """The mean ± std table, one line per metric, the folds' values after it."""
    head = f"cross-validation {summary.group}: {len(summary.runs)} of {summary.folds} folds"
    lines = [f"{head} ({summary.method})", f"{'metric':<28}{'mean ± std':>20}   per fold"]
    for key, label in LABELS.items():
        mean, std = summary.mean.get(key), summary.std.get(key)
        if mean is None:
            continue
        digits = 1 if key == "train_seconds" else 4  # seconds: tenths are plenty
        spread = f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")
        folds = " ".join(
            "-" if v[key] is None else f"{v[key]:.{digits}f}" for v in summary.per_fold
        )
        lines.append(f"{label:<28}{spread:>20}   {folds}")
    if summary.file:
        lines.append(f"summary: {summary.file}")
    if not summary.complete:
        lines.append("not every fold finished: resume the stopped one with train --resume")
    return "\n".join(lines)
