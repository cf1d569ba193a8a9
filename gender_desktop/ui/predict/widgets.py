"""The Predict panel's smaller widgets: the empty-state drop zone, the overlay shown while files
are dragged over the results, and the detail pane for the selected result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint, QRectF, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QDesktopServices,
    QFont,
    QGuiApplication,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.ui.predict.delegate import ERROR_COLOR, mix
from gender_desktop.ui.predict.files import escape


def _paint_tray(painter: QPainter, centre_x: float, top: float, color: QColor) -> None:
    """A tray with a downward arrow: the usual 'drop here' glyph, drawn so it follows the
    palette (no icon file to keep in two colours)."""
    pen = QPen(color, 3.0)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    tray = QPainterPath()
    tray.moveTo(centre_x - 30, top + 34)
    tray.lineTo(centre_x - 30, top + 52)
    tray.lineTo(centre_x + 30, top + 52)
    tray.lineTo(centre_x + 30, top + 34)
    painter.drawPath(tray)
    arrow = QPainterPath()
    arrow.moveTo(centre_x, top)
    arrow.lineTo(centre_x, top + 38)
    arrow.moveTo(centre_x - 12, top + 26)
    arrow.lineTo(centre_x, top + 38)
    arrow.lineTo(centre_x + 12, top + 26)
    painter.drawPath(arrow)


class DropZone(QWidget):
    """What the panel shows before any prediction: a dashed drop target that says what to do,
    with the same buttons as the toolbar for people who do not drag."""

    open_files = Signal()
    open_folder = Signal()
    paste = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.highlight = False
        self.title = QLabel("Drop photos or folders here")
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title.setFont(font)
        self.subtitle = QLabel(
            "JPEG, PNG, WebP, BMP, TIFF or GIF files; folders are searched for images, "
            "subfolders included. You can also paste an image or file paths (Ctrl+V)."
        )
        self.subtitle.setWordWrap(True)
        self.hint = QLabel()
        self.hint.setTextFormat(Qt.TextFormat.RichText)
        self.hint.setWordWrap(True)
        for label in (self.title, self.subtitle, self.hint):
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        for label in (self.subtitle, self.hint):
            muted(label)
        self.files_button = QPushButton("Open Files…")
        self.folder_button = QPushButton("Open Folder…")
        self.paste_button = QPushButton("Paste")
        self.files_button.clicked.connect(self.open_files)
        self.folder_button.clicked.connect(self.open_folder)
        self.paste_button.clicked.connect(self.paste)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.files_button, self.folder_button, self.paste_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.addSpacing(84)  # room for the painted glyph
        column.addWidget(self.title)
        column.addWidget(self.subtitle)
        column.addSpacing(10)
        column.addLayout(buttons)
        column.addSpacing(8)
        column.addWidget(self.hint)
        box = QWidget()
        box.setLayout(column)
        box.setFixedWidth(560)  # wrapped labels need a known width to know their height
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addStretch(1)
        layout.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.set_hint("")

    def set_hint(self, text: str, warning: bool = False) -> None:
        """A line under the buttons: which run predicts, or what is missing (in red)."""
        shown = escape(text)
        if warning:
            shown = f"<span style='color:{ERROR_COLOR.name()}'>{shown}</span>"
        self.hint.setText(shown)
        self.hint.setVisible(bool(text))

    def show_run(self, run: str, device: str, dataset: str) -> None:
        """The hint when nothing is wrong: which run predicts, on what, and whether labels show."""
        if not run:
            self.set_hint(
                "No trained run yet: train one in the Train tab, or pick a run folder with "
                "Browse… above.",
                warning=True,
            )
            return
        text = f"Predictions use {Path(run).name}" + (f" on {device}" if device else "") + "."
        if dataset:
            text += f" Files of the open dataset ({dataset}) also show their label."
        self.set_hint(text)

    def set_highlight(self, on: bool) -> None:
        if on != self.highlight:
            self.highlight = on
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        accent = palette.color(QPalette.ColorRole.Highlight)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        area = QRectF(self.rect()).adjusted(14, 14, -14, -14)
        pen = QPen(
            accent if self.highlight else mix(muted, palette.color(QPalette.ColorRole.Window), 0.3),
            2.0,
        )
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        fill = palette.color(QPalette.ColorRole.Base)
        painter.setBrush(mix(fill, accent, 0.08) if self.highlight else fill)
        painter.drawRoundedRect(area, 14, 14)
        top = self.title.mapTo(self, QPoint(0, 0)).y() - 70
        _paint_tray(painter, area.center().x(), top, accent if self.highlight else muted)


class DropOverlay(QWidget):
    """A translucent 'Drop to predict' layer over the results while files are dragged."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        base = self.palette().color(QPalette.ColorRole.Base)
        fill = QColor(base)
        fill.setAlpha(215)
        pen = QPen(accent, 2.5)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(fill)
        area = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        painter.drawRoundedRect(area, 12, 12)
        _paint_tray(painter, area.center().x(), area.center().y() - 60, accent)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(accent)
        text_box = QRectF(area.left(), area.center().y() + 4, area.width(), 40)
        painter.drawText(text_box, Qt.AlignmentFlag.AlignCenter, "Drop to predict")


def muted(label: QLabel) -> QLabel:
    """Secondary text: drawn in the palette's placeholder colour, so it follows theme switches."""
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def results_menu(parent: QWidget, rows: list[PredictionRow], in_browser: Callable | None) -> QMenu:
    """The context menu of selected results: open, show the folder, copy paths, and "Show in
    Browser" (``in_browser``) when they are images of the open dataset."""
    first = rows[0]
    actions: list[tuple[str, Callable]] = [
        ("Open Image", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(first.path))),
        (
            "Show Folder",
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(first.path).parent))),
        ),
        (
            "Copy Path" if len(rows) == 1 else f"Copy {len(rows)} Paths",
            lambda: QGuiApplication.clipboard().setText("\n".join(r.path for r in rows)),
        ),
    ]
    if in_browser is not None:
        actions.append(("Show in Browser", in_browser))
    menu = QMenu(parent)
    for text, slot in actions:
        action = QAction(text, menu)
        action.triggered.connect(slot)
        menu.addAction(action)
    return menu
