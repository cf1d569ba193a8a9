"""The detail pane: the selected image large, its label with the source's, and every attribute."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.data.dataset import Dataset
from gender_desktop.data.images import ImageError, decode
from gender_desktop.data.sources import printable
from gender_desktop.errors import UserError
from gender_desktop.ui.browser.filters import attribute_label
from gender_desktop.ui.thumbnails import pil_to_qimage

PREVIEW_SIDE = 512


class _Loaded(QObject):
    done = Signal(int, QImage, str)  # token, image (null on error), error


class _LoadImage(QRunnable):
    def __init__(self, token: int, dataset: Dataset, row: int, signals: _Loaded) -> None:
        super().__init__()
        self.token, self.dataset, self.row, self.signals = token, dataset, row, signals

    def run(self) -> None:
        try:
            img = decode(
                self.dataset.read_bytes(self.row), self.dataset.display_path(self.row), PREVIEW_SIDE
            )
            self.signals.done.emit(self.token, pil_to_qimage(img), "")
        except (ImageError, UserError) as exc:  # a FIFO, a zip bomb: the reason, no path
            self.signals.done.emit(self.token, QImage(), exc.reason)
        except Exception as exc:  # noqa: BLE001 - any read failure is shown, never raised
            self.signals.done.emit(self.token, QImage(), f"unreadable ({exc})")


class _ScaledImage(QLabel):
    """A label that keeps its pixmap scaled to fit as the pane resizes."""

    def __init__(self) -> None:
        super().__init__()
        self._pixmap = QPixmap()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)  # "Cannot show this image: <a long reason>" wraps, never clips
        self.setMinimumSize(QSize(160, 180))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._rescale()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap.isNull():
            super().setPixmap(QPixmap())
            return
        super().setPixmap(
            self._pixmap.scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


class ElidedLabel(QLabel):
    """One line that elides in the middle when it does not fit, so a long file name keeps its
    end (``….jpg.chip.jpg``) instead of being cut off at the pane's edge; the whole text is in
    the tooltip and :meth:`text` (what a test or a caller reads) is never the elided one."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._full = ""
        # Ignored: a long name must not widen the pane; it elides to the width it is given.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, width)
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")


class DetailPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._token = 0
        self._signals = _Loaded()
        self._signals.done.connect(self._on_loaded)
        self.title = ElidedLabel("No image selected")
        self.title.setObjectName("detailTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label_line = QLabel("")
        self.label_line.setWordWrap(True)
        self.image = _ScaledImage()
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Attribute", "Value"])
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)  # a wrapped path showed its first line, the name lost
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.image, 3)
        layout.addWidget(self.label_line)
        self.controls = QVBoxLayout()
        layout.addLayout(self.controls)
        layout.addWidget(self.table, 2)
        self.setMinimumWidth(280)

    def clear(self, message: str = "No image selected") -> None:
        self._token += 1
        self.title.setText(message)
        self.label_line.setText("")
        self.image.set_image(QPixmap())
        self.image.setText("")
        self.table.setRowCount(0)

    def show_row(self, dataset: Dataset, row: int, male: int, source_male: int) -> None:
        table = dataset.table
        self.title.setText(printable(str(table["image_id"].iat[row])))
        self.show_label(male, source_male)
        skip = {"image_id", "Male"}
        columns = [c for c in table.columns if c not in skip]
        self.table.setRowCount(len(columns))
        for i, column in enumerate(columns):
            value = table[column].iat[row]
            # Only real booleans read Yes/No: an age of 1 or 0 equals True/False as a dict key.
            text = ("Yes" if value else "No") if isinstance(value, (bool, np.bool_)) else str(value)
            if column == "path":
                text = dataset.display_path(row)
            self.table.setItem(i, 0, QTableWidgetItem(attribute_label(column)))
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            self.table.setItem(i, 1, item)
        self._token += 1
        self.image.setText("Loading…")
        QThreadPool.globalInstance().start(_LoadImage(self._token, dataset, row, self._signals))

    def show_label(self, male: int, source_male: int) -> None:
        label = "Male" if male else "Female"
        color = "#2f7ed8" if male else "#e07b1a"
        text = f"<b style='color:{color}'>{label}</b>"
        if male != source_male:
            text += f" · edited (the dataset says {'Male' if source_male else 'Female'})"
        self.label_line.setText(text)

    def _on_loaded(self, token: int, image: QImage, error: str) -> None:
        if token != self._token:
            return  # the selection moved on while this image was decoding
        if image.isNull():
            self.image.set_image(QPixmap())
            self.image.setText(f"Cannot show this image:\n{error}")
        else:
            self.image.setText("")
            self.image.set_image(QPixmap.fromImage(image))
