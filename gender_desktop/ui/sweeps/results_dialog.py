"""The Sweep Results window: the studies in a storage (the app's SQLite file, or any URL), and
the chosen one's results (:class:`SweepResultsView`).

Studies are read by a child process of this window's own (``sweep_studies``,
``sweep_results``): Optuna and the database stay out of the GUI process, and reading does not
wait behind a sweep that is running in the training child. Retraining the best is the Train
panel's business (it runs in the training child): the window asks for it with a signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.ui.engine import ProcessClient
from gender_desktop.ui.sweeps.results import SweepResultsView

READER_IDLE_S = 60.0


class SweepResultsDialog(QDialog):
    retrain_requested = Signal(str, str)  # storage URL ("" = the app's), study
    loaded = Signal(dict)  # a study's summary, once shown
    listed = Signal(list)  # the storage's studies

    def __init__(
        self,
        default_storage: str,
        storage: str = "",
        study: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep Results")
        self.client = ProcessClient("sweep results", self, idle_release_s=READER_IDLE_S)
        self.client.finished.connect(self._finished)
        self.client.failed.connect(self._failed)
        self.pending: dict[int, str] = {}
        self.wanted = study
        self.storage = QLineEdit(storage, placeholderText=default_storage)
        self.storage.setToolTip("an Optuna storage URL; empty: the app's own SQLite file")
        self.studies = QComboBox(minimumContentsLength=30)
        self.refresh_button = QPushButton("Refresh")
        self.status = QLabel()
        self.view = SweepResultsView()
        top = QHBoxLayout()
        top.addWidget(QLabel("Storage"))
        top.addWidget(self.storage, 1)
        top.addWidget(QLabel("Study"))
        top.addWidget(self.studies, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        self.refresh_button.clicked.connect(self.refresh)
        self.storage.editingFinished.connect(self.refresh)
        self.studies.activated.connect(lambda _i: self.load(self.studies.currentData()))
        self.view.retrain_requested.connect(
            lambda _public, name: self.retrain_requested.emit(self.storage.text().strip(), name)
        )
        self.view.open_run.connect(
            lambda run: QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(run))))
        )
        self.resize(1280, 800)
        self.refresh()

    def refresh(self) -> None:
        """List the storage's studies (then show the wanted or the newest one)."""
        self.status.setText("Reading the studies…")
        rid = self.client.request("sweep_studies", storage=self.storage.text().strip())
        self.pending[rid] = "list"

    def load(self, study: str | None) -> None:
        if not study:
            return
        self.wanted = study
        self.status.setText(f"Reading {study}…")
        rid = self.client.request("sweep_results", storage=self.storage.text().strip(), study=study)
        self.pending[rid] = "results"

    def _finished(self, rid: int, result: Any) -> None:
        what = self.pending.pop(rid, None)
        if what == "list":
            self._listed(result)
        elif what == "results":
            self.status.setText("")
            self.view.set_summary(result)
            self.loaded.emit(result)

    def _listed(self, studies: list[dict[str, Any]]) -> None:
        self.studies.clear()
        for s in studies:
            text = f"{s['study']} · {s['trials']} trials · {s['sampler']} · {s['started']}"
            self.studies.addItem(text, s["study"])
        self.listed.emit(studies)
        if not studies:
            self.status.setText("No sweeps in this storage yet.")
            return
        names = [s["study"] for s in studies]
        chosen = self.wanted if self.wanted in names else names[0]
        self.studies.setCurrentIndex(names.index(chosen))
        self.load(chosen)

    def _failed(self, rid: int, message: str) -> None:
        self.pending.pop(rid, None)
        self.status.setText(f"Could not read the sweep: {message}")

    def done(self, result: int) -> None:
        self.client.shutdown(wait_s=2)
        super().done(result)
