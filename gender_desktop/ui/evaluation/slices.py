"""The slice table: the metrics for every subgroup the dataset's attributes define, worst
first, so a weakness or a bias (e.g. women with short hair, men wearing lipstick) shows up.
Clicking a row shows the slice's images. Slice names come from the core
(:mod:`gender_desktop.ml.slice_names`), so they read as in ``gender-desktop evaluate``."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from gender_desktop.ml.metrics import MIN_SLICE
from gender_desktop.ml.slice_names import slice_title

Index = QModelIndex | QPersistentModelIndex
COLUMNS = (
    ("slice", "Slice", "The subgroup: an attribute's value (e.g. Eyeglasses or no Eyeglasses)"),
    ("n", "Images", "Images of the evaluated split in this slice"),
    ("male_share", "Male share", "Share of Male labels in the slice"),
    ("accuracy", "Accuracy", "Share classified correctly"),
    ("recall", "Male recall", "Of the slice's Male images, the share called Male"),
    ("female_recall", "Female recall", "Of the slice's Female images, the share called Female"),
    ("f1", "F1 (Male)", "F1 with Male as the positive class"),
    ("errors", "Errors", "Images of the slice classified wrongly"),
)
PERCENT = {"male_share", "accuracy", "recall", "female_recall", "f1"}


class SliceModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.overall = 1.0

    def set_rows(self, rows: list[dict[str, Any]], overall_accuracy: float) -> None:
        self.beginResetModel()
        self.rows = rows
        self.overall = overall_accuracy
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section][2]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        key = COLUMNS[index.column()][0]
        value = row[key]
        small = row["n"] < MIN_SLICE
        if role == Qt.ItemDataRole.DisplayRole:
            if value is None:
                return "–"
            if key == "slice":
                return slice_title(value)
            if key in PERCENT:
                return f"{value:.1%}"
            if key in ("n", "errors"):
                return f"{value:,}"
            return str(value)
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return -1.0 if value is None else value
        if role == Qt.ItemDataRole.TextAlignmentRole and key != "slice":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            if small:
                return QColor("#8a8a8a")
            if key == "accuracy" and value < self.overall - 0.02:
                return QColor("#c0392b")
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = (
                f"{slice_title(row['slice'])}: {row['n']:,} images, accuracy {row['accuracy']:.2%}"
            )
            tip += f" (overall {self.overall:.2%})\nClick to see its images"
            if small:
                tip += f"\nFewer than {MIN_SLICE} images: too few to judge, listed last"
            return tip
        return None


class SliceTable(QTableView):
    """The slices, sortable by any column; ``slice_clicked`` names the row clicked."""

    slice_clicked = Signal(str)  # the slice's name

    def __init__(self) -> None:
        super().__init__()
        self.source = SliceModel()
        proxy = QSortFilterProxyModel(self)
        self.proxy = proxy
        proxy.setSourceModel(self.source)
        proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.setModel(proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the model's own order: worst first
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(1, len(COLUMNS)):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.clicked.connect(self._clicked)
        self.activated.connect(self._clicked)  # Enter on a row, as a click

    def _clicked(self, index: Index) -> None:
        row = self.proxy.mapToSource(index).row()
        if 0 <= row < len(self.source.rows):
            self.slice_clicked.emit(self.source.rows[row]["slice"])

    def set_rows(self, rows: list[dict[str, Any]], overall_accuracy: float) -> None:
        self.source.set_rows(rows, overall_accuracy)


class SlicesView(QWidget):
    """The Slices tab: a line naming the weakest slice, then the table."""

    def __init__(self) -> None:
        super().__init__()
        self.note = QLabel(wordWrap=True)
        self.table = SliceTable()
        self.slice_clicked = self.table.slice_clicked
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)

    def show_rows(self, rows: list[dict[str, Any]], attributes: int, overall: float) -> None:
        self.table.set_rows(rows, overall)
        ranked = [r for r in rows if r["n"] >= MIN_SLICE]
        if ranked:
            worst = ranked[0]
            self.note.setText(
                f"{len(rows):,} slices from {attributes} attributes. Weakest with at least "
                f"{MIN_SLICE} images: <b>{slice_title(worst['slice'])}</b> at "
                f"{worst['accuracy']:.1%} accuracy ({worst['n']:,} images) against "
                f"{overall:.1%} overall. Red: more than 2 points below overall. Click a slice "
                "to see its images."
            )
        elif not attributes:
            self.note.setText("This dataset has no other attributes to slice by.")
        else:
            self.note.setText("No slice has enough images to judge.")
