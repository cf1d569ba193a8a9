"""``gender-desktop report RUN|SWEEP... --out FILE.html|.md|.csv``: a comparison to keep.

Each argument is a run folder or the name of a sweep (its study), whose trials are all taken.
HTML reports hold the app's own figures, drawn offscreen: Qt is imported only then (this
command is a launcher of the figures, as ``gui`` is of the window), so CSV and Markdown
reports and ``--help`` stay Qt-free.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gender_desktop.errors import EXIT_OK, UserError


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "report",
        help="write a report of runs or a sweep (.html with figures, .md or .csv)",
        description="Write the comparison of runs, or of a sweep's trials, as a single-file "
        "HTML report (settings with the differing ones highlighted, the metric table with "
        "intervals, significance in words, curves, bar charts, confusion matrices, the best "
        "run's slices, the sweep's trials; figures inline), or as the notebooks' table in "
        "Markdown or CSV.",
    )
    p.add_argument(
        "runs", nargs="+", metavar="RUN|SWEEP", help="run folders and/or sweep (study) names"
    )
    p.add_argument("--out", required=True, type=Path, help="the report file: .html, .md or .csv")
    p.add_argument("--title", default="", help="the report's title (default: from the runs)")
    p.add_argument("--runs-dir", type=Path, help="where to look for sweeps (default: app data)")


def resolve(items: list[str], root: Path | None) -> list[Path]:
    """Run folders for the arguments: a folder is a run, anything else a sweep's name."""
    from gender_desktop.reports import sweep_runs
    from gender_desktop.runs.index import read_record

    paths: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            if read_record(path) is None:
                raise UserError("not a run folder (no config.json)", file=path)
            paths.append(path)
            continue
        trials = sweep_runs(item, root)
        if not trials:
            where = f" in {root}" if root else ""
            raise UserError(f"{item}: no such run folder, and no sweep of that name{where}")
        paths.extend(trials)
    return list(dict.fromkeys(paths))


def run(args: argparse.Namespace) -> int:
    from gender_desktop.reports import report_format

    report_format(args.out)  # a wrong suffix before any run is read
    paths = resolve(args.runs, args.runs_dir)
    if report_format(args.out) == "html":
        from gender_desktop.ui.report_figures import write_report
    else:
        from gender_desktop.reports import write_report
    written = write_report(paths, args.out, args.title)
    print(f"report of {len(paths)} run(s): {written}")
    return EXIT_OK
