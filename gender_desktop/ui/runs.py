"""A picker for trained runs, shared by the Evaluate and Predict panels."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QWidget,
)

from gender_desktop.runs.catalog import list_runs, run_info
from gender_desktop.runs.folder import workspace_path
from gender_desktop.ui import file_dialogs


class RunPicker(QWidget):
    """Runs of the workspace, newest first, plus any run folder chosen with Browse…."""

    run_changed = Signal(str)  # the run folder, or "" when there is none

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(30)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setToolTip("The trained run whose model is used (its best.pt)")
        self.browse = QPushButton("Browse…")
        self.browse.setToolTip("Use a run folder from elsewhere (another workspace, a colleague)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Run:"))
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.browse)
        self.combo.currentIndexChanged.connect(self._changed)
        self.browse.clicked.connect(self._browse)
        self.refresh()

    def current(self) -> str:
        return self.combo.currentData() or ""

    def refresh(self, select: str | None = None) -> None:
        """Reload the list (after a run finished); keeps the selection unless told otherwise."""
        keep = select or self.current()
        extra = [
            self.combo.itemData(i)
            for i in range(self.combo.count())
            if self.combo.itemData(i) and Path(self.combo.itemData(i)).parent != workspace_path()
        ]
        self.combo.blockSignals(True)
        self.combo.clear()
        for info in list_runs():
            if info.has_model:
                self.combo.addItem(info.title(), str(info.path))
        for path in extra:
            self._add(path)
        if self.combo.count() == 0:
            self.combo.addItem("No trained runs yet: train one in the Train tab", "")
        index = self.combo.findData(keep) if keep else 0
        self.combo.setCurrentIndex(max(index, 0))
        self.combo.blockSignals(False)
        if self.current() != getattr(self, "_last", None):
            self._changed()

    def select(self, path: str) -> None:
        index = self.combo.findData(path)
        if index < 0:
            self._add(path)
            index = self.combo.findData(path)
        self.combo.setCurrentIndex(index)

    def _add(self, path: str) -> None:
        info = run_info(Path(path))
        if info is not None:
            if self.combo.count() == 1 and not self.combo.itemData(0):
                self.combo.clear()
            self.combo.addItem(info.title(), str(info.path))

    def _browse(self) -> None:
        folder = file_dialogs.choose_folder(
            self, "runs", "Choose a run folder", fallback=workspace_path()
        )
        if folder:
            if run_info(Path(folder)) is None:
                QMessageBox.warning(
                    self,
                    "Not a run folder",
                    f"{folder} has no config.json: it is not a gender-desktop run folder.",
                )
                return
            self.select(folder)

    def _changed(self, *_args) -> None:
        self._last = self.current()
        self.run_changed.emit(self._last)
