"""The HTML report's figures, drawn by the app's own comparison plots (``ui/figures.py``),
and the ``write_report`` the app and the CLI call.

Rendering needs a QApplication but no screen: the CLI and the app's report child set
``QT_QPA_PLATFORM=offscreen`` before creating one (:func:`offscreen_application`), so a
report is written the same on a server, in CI and beside the open window.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gender_desktop.reports import writer
from gender_desktop.runs.compare import Comparison

WIDTH = 1000  # px: the report's column is about this wide, so the PNGs show at 1:1


def figure_size(name: str, runs: int) -> tuple[int, int]:
    """Each figure's pixels for ``runs`` runs: the bar and tile figures grow with them."""
    if name == "time":
        return WIDTH, 110 + 30 * runs
    if name == "confusion":
        return WIDTH, 40 + 230 * math.ceil(runs / 3)
    if name == "curves":
        return WIDTH, 400 + 22 * math.ceil(runs / 3)  # the legend below holds 3 runs a row
    return WIDTH, 400


def offscreen_application():
    """The running QApplication, or a new offscreen one (set before it is created: Qt reads
    the platform once)."""
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        qInstallMessageHandler(_quiet_offscreen)
        app = QApplication([])
    return app


def _quiet_offscreen(_kind, _context, message: str) -> None:
    """Qt's messages on stderr as usual, less the offscreen platform's note that it cannot
    propagate size hints (said once per figure, and meaningless for a PNG)."""
    if "does not support propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def render_figures(comparison: Comparison) -> dict[str, bytes]:
    """The comparison figures as PNG bytes by name (curves, metrics, time, confusion, and
    the parallel coordinates of three or more runs)."""
    from gender_desktop.ui import figures

    offscreen_application()
    out: dict[str, bytes] = {}
    runs = len(comparison.records)
    with tempfile.TemporaryDirectory(prefix="gender-desktop-report-") as folder:
        for name, figure in figures.figures_for(comparison).items():
            width, height = figure_size(name, runs)
            path = figures.render_png(figure, Path(folder) / f"{name}.png", width, height)
            out[name] = path.read_bytes()
            figure.deleteLater()
    parallel = render_parallel(comparison)
    if parallel is not None:
        out["parallel"] = parallel
    return out


def parallel_frame(comparison: Comparison):
    """The runs as parallel-coordinates trials: the settings that differ, then the val loss of
    each run's kept epoch (the metric a sweep chooses on); None for fewer than three runs or
    nothing to show (a picture of two lines says no more than the table)."""
    import pandas as pd

    records = comparison.records
    if len(records) < 3 or any(r.best_val_loss is None for r in records):
        return None
    keys = [k for k in comparison.differing if k not in ("data", "fold")][:8]
    if not keys:
        return None
    rows = []
    for i, (record, settings) in enumerate(zip(records, comparison.settings, strict=True)):
        row = {"number": (record.sweep or {}).get("trial", i), "val_loss": record.best_val_loss}
        for key in keys:
            value = settings.get(key)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            row[key] = value if numeric else str(value)
        rows.append(row)
    return pd.DataFrame(rows), keys


def render_parallel(comparison: Comparison) -> bytes | None:
    """The parallel-coordinates plot of the Sweep Results view, for the report (PNG)."""
    found = parallel_frame(comparison)
    if found is None:
        return None
    from gender_desktop.ui import figures
    from gender_desktop.ui.sweeps.parallel import ParallelCoordinates

    frame, keys = found
    plot = ParallelCoordinates()
    titles = {k: k.split(".")[-1] for k in keys} | {"val_loss": "val loss"}
    plot.set_trials(frame, keys, "val_loss", higher_is_better=False, titles=titles)
    with tempfile.TemporaryDirectory(prefix="gender-desktop-report-") as folder:
        path = figures.render_png(plot, Path(folder) / "parallel.png", WIDTH, 420)
        data = path.read_bytes()
    plot.deleteLater()
    return data


def write_report(run_paths: Sequence[Path], out: Path, title: str = "") -> Path:
    """The report of ``run_paths`` as ``out`` (.html with the app's figures, .md or .csv)."""
    render = render_figures if writer.report_format(Path(out)) == "html" else None
    return writer.write_report(run_paths, Path(out), title, render)
