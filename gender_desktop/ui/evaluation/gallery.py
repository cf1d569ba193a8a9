"""Galleries of evaluated images: the misclassified ones, a confusion-matrix cell, or the
suspected label errors, with a detail pane (large image, Grad-CAM overlay, label and
prediction) and relabeling through the browser's label store (so undo is the same)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStyle,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.ui.browser.delegate import (
    FEMALE_COLOR,
    MALE_COLOR,
    TEXT_HEIGHT,
    ThumbnailDelegate,
    paint_badge,
)
from gender_desktop.ui.browser.grid import ThumbnailGrid
from gender_desktop.ui.browser.model import Role, ThumbnailModel
from gender_desktop.ui.elided import ElidedLabel
from gender_desktop.ui.heatmap import to_qimage
from gender_desktop.ui.thumbnails import ThumbnailLoader

THUMB_SIZE = 112
P_MALE = int(Role.BROKEN) + 10
WRONG_COLOR = QColor("#d64545")

Index = QModelIndex | QPersistentModelIndex


class GalleryModel(ThumbnailModel):
    """The browser's thumbnail model over a chosen list of rows, with the model's p(Male)."""

    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__(loader)
        self.p_male = np.empty(0, dtype=np.float32)
        self.threshold = 0.5

    def set_items(self, rows: np.ndarray, p_male: np.ndarray) -> None:
        self.p_male = np.asarray(p_male, dtype=np.float32)
        self.set_rows(np.asarray(rows, dtype=np.int64))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or self.dataset is None:
            return None
        if role == P_MALE:
            return float(self.p_male[index.row()])
        if role == Qt.ItemDataRole.ToolTipRole:  # the full file name, then the prediction
            base = super().data(index, role)
            p = float(self.p_male[index.row()])
            predicted = "Male" if p >= self.threshold else "Female"
            return f"{base}\npredicted {predicted} (p(Male) = {p:.3f})"
        return super().data(index, role)  # the file name is the tile's text, as in the browser


class GalleryDelegate(ThumbnailDelegate):
    """The browser's cell (thumbnail, label badge, edited corner, file name) plus the
    prediction's badge on the right, outlined red when it disagrees with the current label,
    and p(Male) under the name."""

    def __init__(self, thumb_size: int, parent=None) -> None:
        super().__init__(thumb_size, parent)
        self.threshold = 0.5

    def cell_size(self) -> QSize:
        """The browser's cell (picture, file name) and one more line for p(Male)."""
        size = super().cell_size()
        return QSize(size.width(), size.height() + TEXT_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        super().paint(painter, option, index)
        p = index.data(P_MALE)
        if p is None:
            return
        self._paint_probability(painter, option, float(p))
        predicted_male = p >= self.threshold
        wrong = bool(index.data(Role.MALE)) != predicted_male
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(3, 3, -3, -3)  # type: ignore[attr-defined]
        badge = QRect(rect.right() - 33, rect.top() + self.thumb_size - 19, 28, 18)
        paint_badge(
            painter,
            badge,
            MALE_COLOR if predicted_male else FEMALE_COLOR,
            "→M" if predicted_male else "→F",
            WRONG_COLOR if wrong else QColor("white"),
        )
        painter.restore()

    def _paint_probability(self, painter: QPainter, option: QStyleOptionViewItem, p: float) -> None:
        """The line "p(Male) 0.87" under the file name, dimmer than the name."""
        painter.save()
        rect = option.rect.adjusted(3, 3, -3, -3)  # type: ignore[attr-defined]
        line = QRect(rect.left() + 2, rect.bottom() - TEXT_HEIGHT, rect.width() - 4, TEXT_HEIGHT)
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        role = (
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.PlaceholderText
        )
        painter.setPen(palette.color(role))
        painter.drawText(line, Qt.AlignmentFlag.AlignCenter, f"p(Male) {p:.2f}")
        painter.restore()


class GalleryDetail(QWidget):
    """The selected image large, with what the label and the model say, and the actions."""

    relabel = Signal(int)  # 1 Male, 0 Female
    show_in_browser = Signal()
    grad_cam_toggled = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(260)
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(240, 240)
        self.title = ElidedLabel(objectName="detailTitle")
        self.label_line = QLabel()
        self.prediction_line = QLabel()
        self.prediction_line.setWordWrap(True)
        self.cam_note = QLabel(objectName="hint")
        self.cam_note.setWordWrap(True)
        self.grad_cam = QCheckBox("Grad-CAM overlay")
        self.grad_cam.setToolTip(
            "Colour the regions that drove the model's prediction (red = strongest), computed "
            "from the gradients at the network's last convolutional block"
        )
        self.male_button = QPushButton("Male (M)")
        self.female_button = QPushButton("Female (F)")
        self.male_button.setToolTip("Relabel as Male (undo with Ctrl+Z)")
        self.female_button.setToolTip("Relabel as Female (undo with Ctrl+Z)")
        self.browser_button = QPushButton("Show in Browser")
        buttons = QHBoxLayout()
        buttons.addWidget(self.male_button)
        buttons.addWidget(self.female_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image)
        layout.addWidget(self.title)
        layout.addWidget(self.label_line)
        layout.addWidget(self.prediction_line)
        layout.addWidget(self.grad_cam)
        layout.addWidget(self.cam_note)
        layout.addLayout(buttons)
        layout.addWidget(self.browser_button)
        layout.addStretch(1)
        self.male_button.clicked.connect(lambda: self.relabel.emit(1))
        self.female_button.clicked.connect(lambda: self.relabel.emit(0))
        self.browser_button.clicked.connect(self.show_in_browser)
        self.grad_cam.toggled.connect(self.grad_cam_toggled)
        self.clear()

    def clear(self, text: str = "Select an image") -> None:
        self.image.clear()
        self.image.setText(text)
        self.title.setText("")
        self.label_line.setText("")
        self.prediction_line.setText("")
        self.cam_note.setText("")
        for w in (self.male_button, self.female_button, self.browser_button):
            w.setEnabled(False)

    def show_item(
        self,
        name: str,
        split: str,
        male: int,
        original: int,
        p_male: float,
        threshold: float,
        pixmap: QPixmap | None,
    ) -> None:
        self.title.setText(f"{name}")
        label = "Male" if male else "Female"
        edited = f" (edited; was {'Male' if original else 'Female'})" if male != original else ""
        self.label_line.setText(f"Label: <b>{label}</b>{edited} · {split} split")
        predicted = "Male" if p_male >= threshold else "Female"
        confidence = p_male if predicted == "Male" else 1 - p_male
        agree = predicted == label
        colour = "#2e9d5a" if agree else "#d64545"
        self.prediction_line.setText(
            f"Model: <b style='color:{colour}'>{predicted}</b> with {confidence:.1%} "
            f"(p(Male) = {p_male:.3f})" + ("" if agree else " · disagrees with the label")
        )
        if pixmap is not None and not pixmap.isNull():
            self.set_picture(pixmap)
        else:
            self.image.setText("Loading…")
        for w in (self.male_button, self.female_button, self.browser_button):
            w.setEnabled(True)

    def show_cam(self, cam: tuple[np.ndarray, bool] | None) -> None:
        """The Grad-CAM overlay over the whole picture, or that it is being computed."""
        if cam is None:
            self.cam_note.setText("Computing Grad-CAM…")
            return
        picture, stands_out = cam
        self.set_picture(QPixmap.fromImage(to_qimage(picture)))
        height, width = picture.shape[:2]
        outside = " Dimmed: outside the centre square the model sees." if height != width else ""
        self.cam_note.setText(
            "Red: the regions that drove this prediction most." + outside
            if stands_out
            else "No region stands out: at this layer nothing pushes the model toward its "
            "answer more than elsewhere."
        )

    def set_picture(self, pixmap: QPixmap) -> None:
        side = min(self.image.width(), 320)
        self.image.setPixmap(
            pixmap.scaled(
                QSize(side, side),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


class Gallery(QWidget):
    """Grid + detail pane. The panel fills it with ``show_items`` and handles its signals."""

    def __init__(self) -> None:
        super().__init__()
        self.loader = ThumbnailLoader(128, self)
        self.model = GalleryModel(self.loader)
        self.delegate = GalleryDelegate(THUMB_SIZE)
        self.grid = ThumbnailGrid(self.delegate.cell_size())
        self.grid.setModel(self.model)
        self.grid.setItemDelegate(self.delegate)
        self.delegate.setParent(self.grid)
        self.detail = GalleryDetail()
        splitter = QSplitter()
        splitter.addWidget(self.grid)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([800, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def selected_rows(self) -> list[int]:
        """Dataset rows of the selected tiles."""
        ranges = self.grid.selectionModel().selection()
        parts = [self.model.rows[r.top() : r.bottom() + 1] for r in ranges]
        return np.unique(np.concatenate(parts)).tolist() if parts else []

    def current_position(self) -> int:
        index = self.grid.currentIndex()
        return index.row() if index.isValid() else -1

    def select_position(self, position: int) -> None:
        if not len(self.model.rows):
            return
        position = max(0, min(position, len(self.model.rows) - 1))
        index = self.model.index(position)
        self.grid.setCurrentIndex(index)
        self.grid.scrollTo(index)

    def shutdown(self) -> None:
        self.loader.shutdown()
