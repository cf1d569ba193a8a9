"""The Predict panel's detail pane: the selected result, large, with what is known about it,
and for an image of the open dataset the buttons that relabel it or show it in the browser."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QGuiApplication,
    QImage,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from gender_desktop.ml.config import DEFAULT_SETTING
from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.ml.prediction_rows import (
    AGREES,
    DISAGREES,
    face_text,
    framed_text,
    row_setting,
    setting_text,
)
from gender_desktop.ui import heatmap
from gender_desktop.ui.heatmap import to_qimage
from gender_desktop.ui.predict.delegate import ERROR_COLOR, RIGHT_COLOR, class_color
from gender_desktop.ui.predict.files import escape
from gender_desktop.ui.predict.model import HeatState
from gender_desktop.ui.predict.widgets import muted

DETAIL_SIDE = 256


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def detail_facts(
    row: PredictionRow,
    heat_state: HeatState,
    heat_message: str,
    show_heat: bool,
    setting_now: tuple[str, str],
) -> list[str]:
    """The rich-text lines under the prediction: probabilities or the reason, the dataset label
    and whether the model agrees with it, how the picture was framed (the image above is that
    picture) and the face box, Grad-CAM's state, the settings used."""
    red = ERROR_COLOR.name()
    facts: list[str] = []
    if row.p_male is None:
        facts.append(f"<b>Reason:</b> {escape(row.error)}")
    else:
        facts.append(f"p(male) {row.p_male:.4f} · p(female) {1.0 - row.p_male:.4f}")
    if row.label is not None:
        facts.append(f"<b>Dataset:</b> {escape(str(row.image_id))} ({row.split} split)")
        facts.append(f"<b>Label:</b> {row.label}")
        if row.wrong:
            facts.append(f"<b style='color:{red}'>✗ {sentence(DISAGREES)}</b>")
        elif row.p_male is not None:  # nothing predicted: nothing to agree with
            facts.append(f"<span style='color:{RIGHT_COLOR.name()}'>✓ {sentence(AGREES)}</span>")
    if row.framed:
        facts.append(f"<b>Framed:</b> {escape(framed_text(row))}")
    if row.box:
        left, top, width, height = row.box
        facts.append(f"<b>Face box:</b> {width}×{height} px at ({left}, {top}) in the photo")
    if show_heat and row.p_male is not None:
        if heat_state == HeatState.PENDING:
            facts.append("Grad-CAM: computing…")
        elif heat_state == HeatState.FAILED:
            facts.append(f"Grad-CAM failed: {escape(heat_message)}")
    setting = f"Predicted with {setting_text(row.framing, row.tta)}"
    if row_setting(row) != setting_now:
        setting = f"<b style='color:{red}'>{setting}, not the current settings</b>"
    facts.append(setting)
    return facts


class DetailPane(QWidget):
    """The selected result, large: its Grad-CAM overlay when that is on, the probabilities, the
    dataset label, the face box or the error, the setting it was made with, and where the file
    is. For an image of the open dataset it relabels it and shows it in the browser."""

    relabel = Signal(int)  # 1 Male, 0 Female
    reveal = Signal()  # show the image in the Browse tab

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row: PredictionRow | None = None
        self.title = self._label(bold=True, scale=1.15)
        self.image = QLabel()
        self.image.setFixedSize(DETAIL_SIDE, DETAIL_SIDE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.image.setAutoFillBackground(True)
        self.legend = self._legend()
        self.prediction = self._label(bold=True, scale=1.4)
        self.facts = self._label()
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.path = muted(self._label())
        self.path.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.dataset_actions = self._dataset_actions()
        self.placeholder = muted(QLabel("Select a result to see it larger, with its details."))
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.content = QWidget()
        column = QVBoxLayout(self.content)
        column.setContentsMargins(0, 0, 0, 0)
        for widget in (self.title, self.image, self.legend):
            column.addWidget(widget)
        column.addSpacing(4)
        for widget in (self.prediction, self.facts, self.dataset_actions, self.path):
            column.addWidget(widget)
        column.addLayout(self._file_buttons())
        column.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.content, 1)
        self.setMinimumWidth(DETAIL_SIDE + 24)
        self.show_row(None)

    def _label(self, bold: bool = False, scale: float = 1.0) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if bold or scale != 1.0:
            font = QFont(label.font())
            font.setBold(bold)
            font.setPointSizeF(font.pointSizeF() * scale)
            label.setFont(font)
        return label

    def _legend(self) -> QWidget:
        legend = QWidget()
        row = QHBoxLayout(legend)
        row.setContentsMargins(0, 0, 0, 0)
        bar = QLabel()
        bar.setPixmap(QPixmap.fromImage(to_qimage(heatmap.legend(120, 8))))
        legend.setToolTip(
            "Grad-CAM: where the evidence for the predicted class lies, from the gradients at "
            "the network's last block"
        )
        row.addWidget(muted(QLabel("Grad-CAM: low")))
        row.addWidget(bar)
        row.addWidget(muted(QLabel("high")))
        row.addStretch(1)
        return legend

    def _dataset_actions(self) -> QWidget:
        """Relabel as Male / Female (through the browser's undoable store) and Show in Browser."""
        box = QWidget()
        self.male_button = QPushButton("Male")
        self.male_button.setToolTip("Label this image of the open dataset Male (Ctrl+Z undoes)")
        self.female_button = QPushButton("Female")
        self.female_button.setToolTip("Label this image of the open dataset Female (Ctrl+Z undoes)")
        self.browser_button = QPushButton("Show in Browser")
        self.browser_button.setToolTip("Switch to the Browse tab with this image selected")
        self.male_button.clicked.connect(lambda: self.relabel.emit(1))
        self.female_button.clicked.connect(lambda: self.relabel.emit(0))
        self.browser_button.clicked.connect(self.reveal)
        relabel_row = QHBoxLayout()
        relabel_row.addWidget(muted(QLabel("Relabel as")))
        relabel_row.addWidget(self.male_button)
        relabel_row.addWidget(self.female_button)
        relabel_row.addStretch(1)
        browser_row = QHBoxLayout()
        browser_row.addWidget(self.browser_button)
        browser_row.addStretch(1)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 4, 0, 4)
        column.addLayout(relabel_row)
        column.addLayout(browser_row)
        return box

    def _file_buttons(self) -> QHBoxLayout:
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
        return buttons

    def show_row(
        self,
        row: PredictionRow | None,
        preview: QImage | None = None,
        heat: QImage | None = None,
        heat_state: HeatState = HeatState.NONE,
        heat_message: str = "",
        show_heat: bool = False,
        setting_now: tuple[str, str] = DEFAULT_SETTING,
        in_dataset: bool = False,
    ) -> None:
        """Show ``row``; ``setting_now`` is the panel's (framing, tta) (a row made otherwise
        says so), ``in_dataset`` offers relabeling and the browser (an open dataset's image).
        The image is the row's preview: the picture the model was given, as framed."""
        self.row = row
        self.placeholder.setVisible(row is None)
        self.content.setVisible(row is not None)
        if row is None:
            return
        name, face = Path(row.path).name, face_text(row)
        self.title.setText(f"{name} · {face}" if face else name)
        self._show_image(heat if show_heat and heat is not None else preview)
        self.legend.setVisible(show_heat and heat is not None)
        if row.p_male is None:
            self.prediction.setText("Cannot predict")
            self._color(self.prediction, ERROR_COLOR)
        else:
            self.prediction.setText(f"{row.prediction}  {row.probability:.1%}")
            self._color(self.prediction, class_color(row.prediction))
        facts = detail_facts(row, heat_state, heat_message, show_heat, setting_now)
        if row.p_male is not None and preview is not None and not preview.isNull():
            facts.insert(1, "The image above is the picture the model was given.")
        self.facts.setText("<br>".join(facts))
        self.dataset_actions.setVisible(in_dataset)
        if in_dataset:
            self.male_button.setEnabled(row.label != "Male")
            self.female_button.setEnabled(row.label != "Female")
        self.path.setText(row.path)

    def _show_image(self, image: QImage | None) -> None:
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
