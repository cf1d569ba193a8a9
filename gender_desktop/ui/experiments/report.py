"""The Experiments tab's "Report…": the selected runs as an HTML, Markdown or CSV report.

The report is written by its own child process (ui/report_service.py): reading the runs'
predictions for McNemar's test and drawing the figures take longer than the GUI thread may
block. This object owns that child, the file dialog and what the user is told.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from gender_desktop.ui import file_dialogs
from gender_desktop.ui.engine import ProcessClient
from gender_desktop.ui.report_service import REPORT_SERVICE

FILTERS = "HTML report (*.html);;Markdown table (*.md);;CSV table (*.csv)"


class ReportWriter(QObject):
    message = Signal(str)  # for the tab's status line
    written = Signal(str)  # the report's path
    busy_changed = Signal(bool)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.client = ProcessClient("report", self, service=REPORT_SERVICE, idle_release_s=60)
        self.client.finished.connect(self._finished)
        self.client.failed.connect(self._failed)
        self.client.progressed.connect(lambda _rid, _d, _t, text: self.message.emit(text))
        self._rid: int | None = None

    @property
    def busy(self) -> bool:
        return self._rid is not None

    def ask_and_write(self, paths: list[str], title: str = "") -> int | None:
        """Ask where to write the report of ``paths``, then write it in the background."""
        if not paths or self.busy:
            return None
        out, chosen = file_dialogs.save_file(
            self.parent_widget, "report", "Write a report of the selected runs",
            "comparison.html", FILTERS,
        )  # fmt: skip
        if not out:
            return None
        if not Path(out).suffix:  # the filter the user chose says which format
            out += "." + chosen.rsplit("*.", 1)[-1].rstrip(")")
        return self.write(paths, out, title)

    def write(self, paths: list[str], out: str, title: str = "") -> int:
        self.message.emit(f"Writing the report of {len(paths)} run(s)…")
        self._rid = self.client.request("report", runs=list(paths), out=out, title=title)
        self.busy_changed.emit(True)
        return self._rid

    def _finished(self, rid: int, result: object) -> None:
        if rid != self._rid:
            return
        self._rid = None
        self.busy_changed.emit(False)
        if isinstance(result, dict) and result.get("cancelled"):
            self.message.emit("Report cancelled")
            return
        path = str(result["path"]) if isinstance(result, dict) else ""
        self.message.emit(f"Report written: {path}")
        self.written.emit(path)

    def _failed(self, rid: int, message: str) -> None:
        if rid != self._rid:
            return
        self._rid = None
        self.busy_changed.emit(False)
        self.message.emit("The report was not written")
        QMessageBox.warning(self.parent_widget, "Report not written", message)

    def shutdown(self) -> None:
        self.client.shutdown()
