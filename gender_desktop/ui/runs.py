"""A picker for trained runs, shared by the Evaluate and Predict panels.

Run titles are long ("20261201-153440-demo-resnet18 · resnet18 · 3 epochs · val 93.3% · test
92.0%") and the top bars are crowded at 1280 x 800, so the combo box elides the middle of the
title (the start says which run, the end its numbers) with the full title as tooltip, and its
list opens wide enough to read every title whole.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QWidget,
)

from gender_desktop.runs.catalog import list_runs, run_info
from gender_desktop.runs.folder import workspace_path
from gender_desktop.ui import file_dialogs

MIN_CHARS = 24  # the combo never gets narrower than this many average characters
POPUP_MAX = 900  # px: the open list is as wide as its longest title, up to this


class ElidingCombo(QComboBox):
    """A combo box that elides the middle of its current text to its width (Qt's own cuts the
    end, which is where a run's numbers are); the tooltip is the full text."""

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        option.currentText = self.fontMetrics().elidedText(
            option.currentText, Qt.TextElideMode.ElideMiddle, max(field.width() - 4, 1)
        )
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def showPopup(self) -> None:
        widest = max(
            (self.fontMetrics().horizontalAdvance(self.itemText(i)) for i in range(self.count())),
            default=0,
        )
        self.view().setMinimumWidth(min(widest + 40, POPUP_MAX))
        super().showPopup()


class RunPicker(QWidget):
    """Runs of the workspace, newest first, plus any run folder chosen with Browse…."""

    run_changed = Signal(str)  # the run folder, or "" when there is none

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = ElidingCombo()
        self.combo.setMinimumContentsLength(MIN_CHARS)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
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
                self._item(info.title(), str(info.path))
        for path in extra:
            self._add(path)
        if self.combo.count() == 0:
            self.combo.addItem("No trained runs yet: train one in the Train tab", "")
        index = self.combo.findData(keep) if keep else 0
        self.combo.setCurrentIndex(max(index, 0))
        self.combo.blockSignals(False)
        self._update_tooltip()
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
            self._item(info.title(), str(info.path))

    def _item(self, title: str, path: str) -> None:
        self.combo.addItem(title, path)
        self.combo.setItemData(
            self.combo.count() - 1, f"{title}\n{path}", Qt.ItemDataRole.ToolTipRole
        )

    def _update_tooltip(self) -> None:
        """The full title of the chosen run (the box may show it elided)."""
        about = "The trained run whose model is used (its best.pt)"
        title = self.combo.currentText()
        self.combo.setToolTip(f"{title}\n{about}" if self.current() else about)

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
        self._update_tooltip()
        self.run_changed.emit(self._last)
