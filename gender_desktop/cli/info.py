"""``gender-desktop info``: a dataset's layout, counts per split and problems."""

from __future__ import annotations

import argparse
import json
import threading
from typing import Any

from gender_desktop.cli.guard import ctrl_c_sets
from gender_desktop.cli.output import ProgressLine


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "info",
        help="print a dataset's layout, counts per split and problems",
        description="Detect a dataset's layout and print its image count, Male/Female counts per "
        "split and the missing, corrupt and skipped images.",
    )
    p.add_argument("path", help="a dataset folder, annotation file (.txt/.csv) or .zip")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the integrity check of every image file (corrupt is then reported as null)",
    )
    p.add_argument(
        "--list", action="store_true", help="also list every missing, corrupt and skipped file"
    )


def run(args: argparse.Namespace) -> int:
    from gender_desktop.data import open_dataset
    from gender_desktop.data.sources import printable

    progress, cancel = ProgressLine(), threading.Event()
    with ctrl_c_sets(cancel):  # Ctrl+C: Cancelled at the next step, exit 130
        dataset = open_dataset(args.path, progress=progress, cancel=cancel)
        if not args.no_verify:
            dataset.verify(progress=progress, cancel=cancel)
    progress.clear()
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
                print(f"{title}: {printable(name)}: {printable(reason)}")  # names not UTF-8 too
    return 0


def format_info(summary: dict[str, Any]) -> str:
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
