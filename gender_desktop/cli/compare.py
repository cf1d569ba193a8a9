"""``gender-desktop compare RUN RUN...``: the notebooks' comparison table, the settings that
differ, and whether the differences are real (McNemar's exact test on paired predictions)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gender_desktop.cli.table import format_table, percent, seconds
from gender_desktop.runs.compare import TABLE_COLUMNS, Comparison


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "compare",
        help="compare runs: metric table, differing settings and significance",
        description="Compare two or more runs: Configuration | Accuracy | Precision | Recall | "
        "F1 | Training time from each run's test evaluation, the settings that differ "
        "between them, and for each pair evaluated on the same test images McNemar's exact "
        "test and the 95% interval of the accuracy difference, in words.",
    )
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from gender_desktop.runs.compare import compare

    comparison = compare(args.runs)
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2, default=str))
        return 0
    print(format_comparison(comparison))
    return 0


def format_comparison(comparison: Comparison) -> str:
    """The table, then the differing settings run by run, then one sentence per pair."""
    header = ["Run", *TABLE_COLUMNS[:2], "95% CI", *TABLE_COLUMNS[2:-1], "Training time"]
    rows = []
    for row in comparison.rows:
        ci = row.accuracy_ci
        rows.append(
            [
                row.run, row.configuration, percent(row.accuracy),
                f"{percent(ci[0])}-{percent(ci[1])}" if ci else "",
                percent(row.precision), percent(row.recall), percent(row.f1),
                seconds(row.train_seconds),
            ]
        )  # fmt: skip
    parts = [format_table(header, rows, {2, 3, 4, 5, 6, 7})]
    if comparison.differing:
        names = comparison.names
        settings = [
            [key, *(json.dumps(s.get(key), default=str) for s in comparison.settings)]
            for key in comparison.differing
        ]
        parts += ["", "Settings that differ:", format_table(["Setting", *names], settings, set())]
    elif len(comparison.records) > 1:
        parts += ["", "The runs have the same settings."]
    if comparison.pairs:
        parts += ["", "Significance (test images):", *(f"  {p.sentence}" for p in comparison.pairs)]
    return "\n".join(parts)
