"""The Evaluate panel's Images tab: which list to show (a confusion cell, the misclassified
images, a slice, the suspected label errors), how many, and the gallery, or a note saying the
images are in a dataset that is not open."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.ml.evaluation_views import LABEL_ERRORS, SLICE, VIEWS, slice_key
from gender_desktop.ui.evaluation.gallery import Gallery
from gender_desktop.ui.evaluation.session import GalleryItems


class ImagesTab(QWidget):
    """The list chooser over the gallery; ``view_chosen`` says which list the user picked."""

    view_chosen = Signal(str)  # a view key (gender_desktop.ml.evaluation_views)
    open_dataset = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view_combo = QComboBox()
        for key, text in VIEWS.items():
            self.view_combo.addItem(text, key)
        self.view_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.view_combo.setMinimumContentsLength(28)
        self.count = QLabel(wordWrap=True)
        # Long counts wrap instead of widening the window.
        self.count.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.count.setToolTip(
            "Labels and numbers are as evaluated; Evaluate again after relabeling to update them."
        )
        self.crossval_button = QPushButton("Check the Train Split Too")
        self.crossval_button.setToolTip(
            "Val and test images are out-of-sample; the train split is not. This trains 5 fresh "
            "heads on the run's backbone features, each on 4/5 of the train split, and scores "
            "the fifth it did not see: the list then covers the train images too (seconds)."
        )
        self.review_button = QPushButton("Review in Browser")
        self.review_button.setToolTip(
            "Show this list, in this order, in the Browse tab and relabel with M / F"
        )
        self.note = QLabel(wordWrap=True, objectName="hint")
        self.open_dataset_button = QPushButton("Open That Dataset")
        self.gallery = Gallery()
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.view_combo)
        top.addWidget(self.count, 1)
        top.addWidget(self.crossval_button)
        top.addWidget(self.review_button)
        message = QWidget()
        message_layout = QVBoxLayout(message)
        message_layout.addStretch(1)
        message_layout.addWidget(self.note, 0, Qt.AlignmentFlag.AlignCenter)
        message_layout.addWidget(self.open_dataset_button, 0, Qt.AlignmentFlag.AlignCenter)
        message_layout.addStretch(1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.gallery)
        self.stack.addWidget(message)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        self.view_combo.currentIndexChanged.connect(
            lambda _i: self.view_chosen.emit(self.view_combo.currentData())
        )
        self.open_dataset_button.clicked.connect(self.open_dataset)
        self._show_buttons(self.view_combo.currentData())

    def key(self) -> str:
        return str(self.view_combo.currentData())

    def choose(self, key: str) -> None:
        """Show the list ``key``; a slice gets its own entry (one at a time) at the end."""
        index = self.view_combo.findData(key)
        if index < 0 and key.startswith(SLICE):
            self.view_combo.blockSignals(True)  # one list change, not two
            self.forget_slice()
            self.view_combo.addItem(f"Slice: {key[len(SLICE) :]}", key)
            self.view_combo.blockSignals(False)
            index = self.view_combo.count() - 1
        if index == self.view_combo.currentIndex():
            self.view_chosen.emit(key)  # the same list again: shown afresh
        self.view_combo.setCurrentIndex(max(index, 0))

    def choose_slice(self, name: str) -> None:
        self.choose(slice_key(name))

    def forget_slice(self) -> None:
        """A new evaluation: its slices may be others, so the slice entry goes."""
        for i in reversed(range(self.view_combo.count())):
            if str(self.view_combo.itemData(i)).startswith(SLICE):
                if i == self.view_combo.currentIndex():
                    self.view_combo.setCurrentIndex(0)
                self.view_combo.removeItem(i)

    def show_items(self, items: GalleryItems) -> None:
        """Render the session's list: the gallery, or where the images are."""
        if items.key and items.key != self.key():  # the session fell back to another list
            self.view_combo.blockSignals(True)
            self.forget_slice()
            self.view_combo.setCurrentIndex(max(self.view_combo.findData(items.key), 0))
            self.view_combo.blockSignals(False)
        self._show_buttons(items.key)
        if items.elsewhere:
            self.note.setText(
                f"These {items.total:,} images are in {items.elsewhere}, which is not the open "
                "dataset. Open it to see, review and relabel them."
            )
            self.stack.setCurrentIndex(1)
            self.count.setText(f"{items.total:,} images")
            self.gallery.model.set_items(items.rows, items.p_male)
            return
        self.stack.setCurrentIndex(0)
        self.gallery.model.set_items(items.rows, items.p_male)
        self.gallery.grid.empty_text = "No images here at this threshold"
        text = f"{items.total:,} images" if items.key else ""
        if items.key == LABEL_ERRORS:
            covered = "val, test and train" if items.covers_train else "val and test"
            text += f" the model calls the other class ({covered}, never trained on)"
        elif items.key.startswith(SLICE):
            text += f" in the slice {items.key[len(SLICE) :]}, its errors first"
        self.count.setText(text)
        if len(items.rows):
            self.gallery.select_position(0)
        else:
            self.gallery.detail.clear("Nothing to show")

    def _show_buttons(self, key: str) -> None:
        self.review_button.setVisible(key == LABEL_ERRORS)
        self.crossval_button.setVisible(key == LABEL_ERRORS)
