"""The Predict panel's bars: the model line with its settings (framing, test-time
augmentation), the tool row (open, paste, Grad-CAM, the filter and order, clear and export), the
bar that says when results were made with other settings, and the status row under the results
(summary, counts, progress, Cancel)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStyle,
    QWidget,
)

from gender_desktop.ml.config import FRAMING_LABELS, FRAMING_MODES, TTA_LABELS, TTA_MODES
from gender_desktop.ml.prediction_rows import Counts, Order, Show, plural, setting_text
from gender_desktop.ui.fields import ComboBox
from gender_desktop.ui.predict.delegate import ERROR_COLOR, STALE_COLOR
from gender_desktop.ui.predict.files import escape, first_line
from gender_desktop.ui.resources import icon

RED = ERROR_COLOR.name()


def red(text: str) -> str:
    """Plain ``text`` as rich text in the error colour."""
    return f"<span style='color:{RED}'>{escape(text)}</span>"


class ModelLabel(QLabel):
    """Which model predicts ("Model: resnet18 · 32 px · epoch 2 · CPU"), or why none can."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Long texts (a load error naming a path) wrap in the width the picker leaves, instead
        # of widening the window; the tooltip has them whole too.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def show_model(self, text: str, tooltip: str, error: bool) -> None:
        self.setText(red(first_line(text)) if error else text)
        self.setToolTip(tooltip)


class PredictToolbar(QWidget):
    """Buttons and settings above the results; the panel connects them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # the app's themed icons (ui/resources): drawn in the text colour, readable in dark
        self.open_files_button = QPushButton(icon("file-open"), "Open Files…")
        self.open_files_button.setToolTip("Predict image files")
        self.open_folder_button = QPushButton(icon("folder-open"), "Open Folder…")
        self.open_folder_button.setToolTip("Predict every image in a folder and its subfolders")
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip(
            "Predict the image, files or folders on the clipboard (Ctrl+V); a pasted image is "
            "saved as a PNG in the app's cache folder first"
        )
        self.framing = choices(FRAMING_LABELS, FRAMING_MODES)
        self.framing.setToolTip(
            "How a photo becomes the model's picture. Auto: faces are found (OpenCV) and each is "
            "framed the way the run's training images framed theirs: placed, scaled, padded and "
            "turned so the eyes are level; a photo already framed so is left as it is. Faces "
            "only: the same, without a prediction for a photo with no face. Off: the whole "
            "image. Changing it predicts the results again."
        )
        self.tta = choices(TTA_LABELS, TTA_MODES)
        self.tta.setToolTip(
            "Test-time augmentation: predict several views of each picture and average their "
            "probabilities. Flip: the picture and its mirror (2 passes). Ten-crop: Levi & "
            "Hassner's corners, centre and mirrors (10 passes). Slower, sometimes steadier."
        )
        self.grad_cam = QCheckBox("Grad-CAM")
        self.grad_cam.setToolTip(
            "Overlay a heat map of the regions that drove each prediction (Grad-CAM), computed "
            "for the selected and the visible results, one at a time"
        )
        self.show_combo = ComboBox()
        self.show_combo.setToolTip(
            "Which results to show. 'Model disagrees with label': images of the open dataset "
            "whose prediction is not their label (the model or the label may be wrong)"
        )
        for show in Show:
            self.show_combo.addItem("", int(show))
        self.order_combo = ComboBox()
        self.order_combo.setToolTip("The order of the results")
        self.order_combo.addItem("Input order", int(Order.INPUT))
        self.order_combo.addItem("Least confident first", int(Order.LEAST_CONFIDENT))
        self.order_combo.addItem("Most confident first", int(Order.MOST_CONFIDENT))
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove every result")
        self.export_button = QPushButton(icon("export"), "Export CSV…")
        self.export_button.setToolTip(
            "Save the results as CSV: path, p_male, prediction, error (and framed, face, box, "
            "dataset id, split, label, wrong and tta where present)"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.open_files_button, self.open_folder_button, self.paste_button):
            row.addWidget(widget)
        row.addWidget(separator())
        row.addWidget(self.grad_cam)
        row.addStretch(1)
        row.addWidget(QLabel("Show:"))
        row.addWidget(self.show_combo)
        row.addWidget(self.order_combo)
        row.addWidget(separator())
        row.addWidget(self.clear_button)
        row.addWidget(self.export_button)

    def settings_box(self) -> QWidget:
        """Framing and TTA with their labels, for the model's row: they say how the model is
        asked, as the run and device beside them say which model (and the tool row stays
        within a 1280 px window)."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        for text, combo in (("Framing:", self.framing), ("TTA:", self.tta)):
            label = QLabel(text)
            label.setBuddy(combo)
            row.addWidget(label)
            row.addWidget(combo)
        return box

    def set_counts(self, counts: Counts) -> None:
        texts = counts.filter_texts()
        for i in range(self.show_combo.count()):
            self.show_combo.setItemText(i, texts[Show(self.show_combo.itemData(i))])

    def enable_results(self, has_rows: bool, busy: bool) -> None:
        self.export_button.setEnabled(has_rows)
        self.clear_button.setEnabled(has_rows or busy)
        self.show_combo.setEnabled(has_rows)
        self.order_combo.setEnabled(has_rows)


class StaleBanner(QFrame):
    """Shown while some results were made with other settings than the panel's: says so and
    offers to predict them again (a changed setting does that by itself for small lists)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("staleBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.button = QPushButton("Re-predict with the current settings")
        self.button.setToolTip("Predict those files again; their old results are replaced")
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 6, 4)
        glyph = QLabel("⚠")
        glyph.setStyleSheet(f"color: {STALE_COLOR.name()}")  # the cards' stale pill colour
        row.addWidget(glyph)
        row.addWidget(self.text, 1)
        row.addWidget(self.button)
        self.hide()

    def set_stale(self, files: int, setting: tuple[str, str], busy: bool) -> None:
        self.setVisible(files > 0)
        if files:
            self.text.setText(
                f"The results of {plural(files, 'file')} were predicted with other settings; "
                f"the settings are now {setting_text(*setting)}."
            )
        self.button.setEnabled(not busy)


class StatusRow(QWidget):
    """Under the results: the last prediction's summary (or a message), the counts over every
    result, and while predicting the progress bar and Cancel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.counts = QLabel()
        self.progress = QProgressBar(textVisible=True)
        self.progress.setMinimumWidth(320)
        self.progress.hide()
        stop = self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserStop)
        self.cancel_button = QPushButton(stop, "Cancel")
        self.cancel_button.setToolTip("Stop predicting (Esc); the results so far stay")
        self.cancel_button.hide()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.summary, 1)
        row.addWidget(self.counts)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)

    def show_progress(self, done: int, total: int, text: str) -> None:
        """``total`` 0: not known yet (a busy bar); ``done`` < 0: only the text changes."""
        if done >= 0:
            self.progress.setRange(0, total and max(total, 1))
            self.progress.setValue(done)
        self.progress.setFormat(text)

    def show_summary(self, parts: list[tuple[str, bool]]) -> None:
        self.summary.setText(" · ".join(red(t) if alarming else escape(t) for t, alarming in parts))
        self.summary.setToolTip("")

    def show_line(self, text: str, error: bool) -> None:
        line = first_line(text)  # the whole text is in the tooltip
        self.summary.setText(red(line) if error else escape(line))
        self.summary.setToolTip(text)

    def set_busy(self, busy: bool, has_rows: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.counts.setVisible(not busy and has_rows)


def choices(labels: dict[str, str], descriptions: dict[str, str]) -> ComboBox:
    """A combo of ``labels`` (key -> shown word) holding the keys as data, each item's tooltip
    its description: the one table (ml/config) the CLI's help reads too."""
    combo = ComboBox()
    for key, label in labels.items():
        combo.addItem(label, key)
        combo.setItemData(combo.count() - 1, descriptions[key], Qt.ItemDataRole.ToolTipRole)
    return combo


def separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line
