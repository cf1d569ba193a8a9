"""The ``gender-desktop`` launcher: with no command it opens the app; ``info`` (and later
``train``, ``evaluate``, ``predict``) run headless on the same core.

The GUI is imported only when needed, so the CLI works on machines without a display or Qt's
system libraries.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from gender_desktop import __version__
from gender_desktop.cli.export import add_export_parser, run_export
from gender_desktop.cli.predict import (
    add_evaluate_parser,
    add_predict_parser,
    run_evaluate,
    run_predict,
)
from gender_desktop.cli.train import add_train_parser, run_train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gender-desktop",
        description="Browse, relabel, train and audit face gender classifiers. "
        "Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--demo", action="store_true", help="open the built-in synthetic demo dataset"
    )
    parser.add_argument(
        "--open", metavar="PATH", help="open this dataset (folder, annotation file or .zip)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = commands.add_parser(
        "info",
        help="print a dataset's layout, counts per split and problems",
        description="Detect a dataset's layout and print its image count, Male/Female counts per "
        "split and the missing, corrupt and skipped images.",
    )
    info.add_argument("path", help="a dataset folder, annotation file (.txt/.csv) or .zip")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the integrity check of every image file (corrupt is then reported as null)",
    )
    info.add_argument(
        "--list", action="store_true", help="also list every missing, corrupt and skipped file"
    )
    add_train_parser(commands)
    add_export_parser(commands)
    add_evaluate_parser(commands)
    add_predict_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "info":
        return run_info(args)
    if args.command == "train":
        return run_train(args)
    if args.command == "export":
        return run_export(args)
    if args.command == "evaluate":
        return run_evaluate(args)
    if args.command == "predict":
        return run_predict(args)
    from gender_desktop.ui.app import run_app

    return run_app(open_path=args.open, demo=args.demo)


def _progress(done: int, total: int, message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{message}: {done:,}/{total:,}" + (" " * 8))
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_info(args: argparse.Namespace) -> int:
    from gender_desktop.data import DatasetError, open_dataset

    try:
        dataset = open_dataset(args.path)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.no_verify:
        dataset.verify(progress=_progress)
    summary = dataset.summary()
    if args.no_verify:
        summary["corrupt"] = None
    report = dataset.report
    if args.list or args.json:
        summary["missing_files"] = report.missing
        summary["corrupt_files"] = [{"image_id": i, "reason": r} for i, r in report.corrupt]
        summary["skipped_files"] = [{"file": f, "reason": r} for f, r in report.skipped]
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(format_info(summary))
    if args.list:
        for title, rows in (
            ("missing", [(m, "file not found") for m in report.missing]),
            ("corrupt", report.corrupt),
            ("skipped", report.skipped),
        ):
            for name, reason in rows:
                print(f"{title}: {name}: {reason}")
    return 0


def format_info(summary: dict) -> str:
    lines = [
        f"layout:    {summary['layout']}",
        f"source:    {summary['source']}",
    ]
    if summary["annotation"]:
        lines.append(f"labels:    {summary['annotation']}")
    lines.append(
        f"images:    {summary['images']:,} ({summary['male']:,} male / {summary['female']:,} female)"
    )
    lines.append(f"splits:    {summary['split_origin']}")
    for name, counts in summary["splits"].items():
        lines.append(
            f"  {name:<6} {counts['male'] + counts['female']:>9,}  "
            f"male {counts['male']:>8,}  female {counts['female']:>8,}"
        )
    corrupt = "not checked" if summary["corrupt"] is None else f"{summary['corrupt']:,}"
    lines.append(
        f"problems:  missing {summary['missing']:,} · corrupt {corrupt} · skipped {summary['skipped']:,}"
    )
    lines.extend(f"warning:   {w}" for w in summary["warnings"])
    return "\n".join(lines)
