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
    QImage,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.ml.prediction_rows import DISAGREES, crop_text, face_text
from gender_desktop.ui import heatmap
from gender_desktop.ui.heatmap import to_qimage
from gender_desktop.ui.predict.delegate import ERROR_COLOR, RIGHT_COLOR, class_color, mix
from gender_desktop.ui.predict.files import escape
from gender_desktop.ui.predict.model import HeatState

DETAIL_SIDE = 256


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
            _muted(label)
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


def _muted(label: QLabel) -> QLabel:
    """Secondary text: drawn in the palette's placeholder colour, so it follows theme switches."""
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class DetailPane(QWidget):
    """The selected result, large: its Grad-CAM overlay when that is on, the probabilities, the
    dataset label, the face box or the error, the setting it was made with, and where the file
    is. For an image of the open dataset it relabels it and shows it in the browser."""

    relabel = Signal(int)  # 1 Male, 0 Female
    reveal = Signal()  # show the image in the Browse tab

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row: PredictionRow | None = None
        self.title = QLabel()
        self.title.setWordWrap(True)
        font = QFont(self.title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.image = QLabel()
        self.image.setFixedSize(DETAIL_SIDE, DETAIL_SIDE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.image.setAutoFillBackground(True)
        self.legend = QWidget()
        legend_row = QHBoxLayout(self.legend)
        legend_row.setContentsMargins(0, 0, 0, 0)
        bar = QLabel()
        bar.setPixmap(QPixmap.fromImage(to_qimage(heatmap.legend(120, 8))))
        self.legend.setToolTip(
            "Grad-CAM: where the evidence for the predicted class lies, from the gradients at "
            "the network's last block"
        )
        legend_row.addWidget(_muted(QLabel("Grad-CAM: low")))
        legend_row.addWidget(bar)
        legend_row.addWidget(_muted(QLabel("high")))
        legend_row.addStretch(1)
        self.prediction = QLabel()
        pfont = QFont(self.prediction.font())
        pfont.setPointSizeF(pfont.pointSizeF() * 1.4)
        pfont.setBold(True)
        self.prediction.setFont(pfont)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path = _muted(QLabel())
        self.path.setWordWrap(True)
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.open_button = QPushButton("Open Image")
        self.open_button.setToolTip("Open the file in the system's image viewer")
        self.folder_button = QPushButton("Show Folder")
        self.folder_button.setToolTip("Open the folder that holds the file")
        self.copy_button = QPushButton("Copy Path")
        self.open_button.clicked.connect(self._open)
        self.folder_button.clicked.connect(self._open_folder)
        self.copy_button.clicked.connect(self._copy)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.folder_button, self.copy_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.dataset_actions = QWidget()
        self.male_button = QPushButton("Male")
        self.male_button.setToolTip("Label this image of the open dataset Male (Ctrl+Z undoes)")
        self.female_button = QPushButton("Female")
        self.female_button.setToolTip("Label this image of the open dataset Female (Ctrl+Z undoes)")
        self.browser_button = QPushButton("Show in Browser")
        self.browser_button.setToolTip("Switch to the Browse tab with this image selected")
        self.male_button.clicked.connect(lambda: self.relabel.emit(1))
        self.female_button.clicked.connect(lambda: self.relabel.emit(0))
        self.browser_button.clicked.connect(self.reveal)
        dataset_row = QHBoxLayout(self.dataset_actions)
        dataset_row.setContentsMargins(0, 0, 0, 0)
        dataset_row.addWidget(_muted(QLabel("Label:")))
        dataset_row.addWidget(self.male_button)
        dataset_row.addWidget(self.female_button)
        dataset_row.addSpacing(8)
        dataset_row.addWidget(self.browser_button)
        dataset_row.addStretch(1)
        self.placeholder = _muted(QLabel("Select a result to see it larger, with its details."))
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.content = QWidget()
        column = QVBoxLayout(self.content)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.title)
        column.addWidget(self.image)
        column.addWidget(self.legend)
        column.addSpacing(4)
        column.addWidget(self.prediction)
        column.addWidget(self.facts)
        column.addWidget(self.dataset_actions)
        column.addWidget(self.path)
        column.addLayout(buttons)
        column.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.content, 1)
        self.setMinimumWidth(DETAIL_SIDE + 24)
        self.show_row(None)

    def show_row(
        self,
        row: PredictionRow | None,
        preview: QImage | None = None,
        heat: QImage | None = None,
        heat_state: HeatState = HeatState.NONE,
        heat_message: str = "",
        show_heat: bool = False,
        crop_now: bool = False,
        in_dataset: bool = False,
    ) -> None:
        """Show ``row``; ``crop_now`` is the panel's setting (a row made with the other one
        says so), ``in_dataset`` offers relabeling and the browser (an open dataset's image)."""
        self.row = row
        self.placeholder.setVisible(row is None)
        self.content.setVisible(row is not None)
        if row is None:
            return
        name = Path(row.path).name
        face = face_text(row)
        self.title.setText(f"{name} · {face}" if face else name)
        image = heat if show_heat and heat is not None else preview
        if image is not None and not image.isNull():
            pixmap = QPixmap.fromImage(image).scaled(
                DETAIL_SIDE,
                DETAIL_SIDE,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self.image.setPixmap(pixmap)
            self.image.setText("")
        else:  # nothing decodable: a warning sign where the image would be
            self.image.setPixmap(QPixmap())
            self.image.setText(f"<span style='font-size:40pt; color:{ERROR_COLOR.name()}'>⚠</span>")
        self.legend.setVisible(show_heat and heat is not None)
        facts: list[str] = []
        if row.p_male is None:
            self.prediction.setText("Cannot predict")
            self._color(self.prediction, ERROR_COLOR)
            facts.append(f"<b>Reason:</b> {escape(row.error)}")
        else:
            prob = row.p_male if row.prediction == "Male" else 1.0 - row.p_male
            self.prediction.setText(f"{row.prediction}  {prob:.1%}")
            self._color(self.prediction, class_color(row.prediction))
            facts.append(f"p(male) {row.p_male:.4f} · p(female) {1.0 - row.p_male:.4f}")
        if row.label is not None:
            if row.wrong:
                verdict = f"<b style='color:{ERROR_COLOR.name()}'>✗ {DISAGREES[0].upper() + DISAGREES[1:]}</b>"
            else:
                verdict = f"<span style='color:{RIGHT_COLOR.name()}'>✓ The model agrees with the label</span>"
            facts.append(
                f"<b>Dataset:</b> {escape(str(row.image_id))} ({row.split} split)<br>"
                f"<b>Label:</b> {row.label}<br>{verdict}"
            )
        if face and row.box:
            left, top, width, height = row.box
            facts.append(f"<b>Face box:</b> {width}×{height} px at ({left}, {top})")
        if show_heat and row.p_male is not None:
            if heat_state == HeatState.PENDING:
                facts.append("Grad-CAM: computing…")
            elif heat_state == HeatState.FAILED:
                facts.append(f"Grad-CAM failed: {escape(heat_message)}")
        setting = f"Predicted with {crop_text(row.crop_faces)}"
        if row.crop_faces != crop_now:
            setting = (
                f"<b style='color:{ERROR_COLOR.name()}'>{setting}, not the current setting</b>"
            )
        facts.append(setting)
        self.facts.setText("<br>".join(facts))
        self.dataset_actions.setVisible(in_dataset)
        if in_dataset:
            self.male_button.setEnabled(row.label != "Male")
            self.female_button.setEnabled(row.label != "Female")
        self.path.setText(row.path)

    def _color(self, label: QLabel, color: QColor) -> None:
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, color)
        label.setPalette(palette)

    def _open(self) -> None:
        if self.row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.row.path))

    def _open_folder(self) -> None:
        if self.row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self.row.path).parent)))

    def _copy(self) -> None:
        if self.row is not None:
            QGuiApplication.clipboard().setText(self.row.path)


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
