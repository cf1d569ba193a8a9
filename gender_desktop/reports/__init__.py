"""Reports of runs and sweeps (CSV, Markdown, single-file HTML), Qt-free.

The figures of an HTML report are drawn by the app's plots in
:mod:`gender_desktop.ui.report_figures`, which also has the ``write_report`` the app and the
CLI call.
"""

from gender_desktop.reports.writer import FigureRenderer, report_format, sweep_runs, write_report

__all__ = ["FigureRenderer", "report_format", "sweep_runs", "write_report"]
