"""The filter sidebar: label, split, any attribute, file-name search, edited only, random sample.

It only builds a :class:`gender_desktop.data.filters.Filter` and emits it; the filtering itself
is the core's vectorised ``apply_filter``.
"""

from __future__ import annotations

import random

import pandas as pd
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.data.dataset import Dataset
from gender_desktop.data.filters import Filter
from gender_desktop.ui.resources import icon

ANY = "Any"
MAX_CATEGORIES = 24


def attribute_label(column: str) -> str:
    """How an attribute column reads in the UI: CelebA's "5_o_Clock_Shadow" as
    "5 o'Clock Shadow", "age_band" as "Age band"."""
    text = column.replace("_", " ").replace("5 o Clock", "5 o'Clock")
    return text[:1].upper() + text[1:]


def _title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label


class FilterPanel(QFrame):
    changed = Signal(object)  # Filter

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self._attr_boxes: dict[str, tuple[QComboBox, list[object]]] = {}
        self._sample_seed = 0
        self._quiet = False
        self._emit_timer = QTimer(self, singleShot=True, interval=150)
        self._emit_timer.timeout.connect(self._emit)

        self.gender = QComboBox()
        self.gender.addItems(["All", "Male", "Female"])
        self.gender.setToolTip("Show images by their current label (edits applied)")
        self.split = QComboBox()
        self.split.addItems(["All", "train", "val", "test"])
        self.search = QLineEdit(placeholderText="Search file names…", clearButtonEnabled=True)
        self.edited_only = QCheckBox("Edited only")
        self.edited_only.setToolTip("Show only images whose label you changed")
        self.sample = QCheckBox("Random sample of")
        self.sample.setToolTip("Show only a random sample of the images that match")
        self.sample_size = QSpinBox(minimum=1, maximum=1000, value=16)
        self.sample_size.setToolTip("How many images the random sample shows")
        self.sample_size.setFixedWidth(64)
        self.shuffle = QToolButton(icon=icon("shuffle"))
        self.shuffle.setToolTip("Draw another random sample (Ctrl+R)")
        self.shuffle.setAccessibleName("Shuffle")
        self.reset = QPushButton(icon("filter-reset"), "Reset filters")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Label", self.gender)
        form.addRow("Split", self.split)
        sample_row = QHBoxLayout()
        sample_row.addWidget(self.sample)
        sample_row.addWidget(self.sample_size)
        sample_row.addWidget(self.shuffle)
        sample_row.addStretch(1)

        self._attr_form = QFormLayout()
        self._attr_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        attr_host = QWidget()
        attr_host.setLayout(self._attr_form)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(attr_host)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        layout = QVBoxLayout(self)
        layout.addWidget(_title("Show"))
        layout.addLayout(form)
        layout.addWidget(self.search)
        layout.addWidget(self.edited_only)
        layout.addLayout(sample_row)
        layout.addWidget(_title("Attributes"))
        layout.addWidget(scroll, 1)
        layout.addWidget(self.reset)
        self.setMinimumWidth(250)

        for combo in (self.gender, self.split):
            combo.currentIndexChanged.connect(self._emit)
        self.edited_only.toggled.connect(self._emit)
        self.sample.toggled.connect(self._emit)
        self.sample_size.valueChanged.connect(self._emit_later)
        self.search.textChanged.connect(self._emit_later)
        self.shuffle.clicked.connect(self.reshuffle)
        self.reset.clicked.connect(lambda: self.clear())

    # -- building -------------------------------------------------------------------------------
    def set_dataset(self, dataset: Dataset | None) -> None:
        while self._attr_form.rowCount():
            self._attr_form.removeRow(0)
        self._attr_boxes.clear()
        if dataset is None:
            return
        for column in dataset.attributes:
            values = self._choices(dataset.table[column])
            if values is None:
                continue
            combo = QComboBox()
            combo.addItem(ANY)
            combo.addItems([self._text(v) for v in values])
            combo.currentIndexChanged.connect(self._emit)
            combo.setObjectName(f"attr:{column}")
            self._attr_boxes[column] = (combo, values)
            self._attr_form.addRow(attribute_label(column), combo)
        self.clear(emit=False)

    @staticmethod
    def _choices(series: pd.Series) -> list[object] | None:
        if series.dtype == bool:
            return [True, False]
        values = series.dropna().unique()
        if 1 < len(values) <= MAX_CATEGORIES:
            try:
                return sorted(values.tolist())
            except TypeError:
                return list(values)
        return None

    @staticmethod
    def _text(value: object) -> str:
        return {True: "Yes", False: "No"}.get(value, str(value))  # type: ignore[call-overload]

    # -- state ----------------------------------------------------------------------------------
    def current(self) -> Filter:
        attributes = tuple(
            (column, values[combo.currentIndex() - 1])
            for column, (combo, values) in self._attr_boxes.items()
            if combo.currentIndex() > 0
        )
        return Filter(
            gender=("all", "male", "female")[self.gender.currentIndex()],
            split=self.split.currentText() if self.split.currentIndex() else "all",
            attributes=attributes,
            text=self.search.text().strip(),
            edited_only=self.edited_only.isChecked(),
            sample=self.sample_size.value() if self.sample.isChecked() else 0,
            sample_seed=self._sample_seed,
        )

    def set_attribute(self, column: str, value: object | None) -> None:
        combo, values = self._attr_boxes[column]
        combo.setCurrentIndex(0 if value is None else values.index(value) + 1)

    def reshuffle(self) -> None:
        self._sample_seed = random.randrange(2**31)
        if not self.sample.isChecked():
            self.sample.setChecked(True)  # emits
        else:
            self._emit()

    def clear(self, emit: bool = True) -> None:
        """Back to showing everything, with one ``changed`` signal (not one per widget). Signals
        are not blocked: the widgets keep their own state right (the search box's clear button)."""
        self._quiet = True
        try:
            self.gender.setCurrentIndex(0)
            self.split.setCurrentIndex(0)
            self.search.clear()
            self.edited_only.setChecked(False)
            self.sample.setChecked(False)
            for combo, _ in self._attr_boxes.values():
                combo.setCurrentIndex(0)
        finally:
            self._quiet = False
        if emit:
            self._emit()

    def _emit_later(self) -> None:
        self._emit_timer.start()

    def _emit(self) -> None:
        self._emit_timer.stop()
        if not self._quiet:
            self.changed.emit(self.current())
