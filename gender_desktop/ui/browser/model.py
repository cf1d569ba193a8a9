"""The grid's model: a thin view over the filtered row positions of the dataset table.

It holds no copy of the data: ``rows`` is a numpy array of table positions, so a filter change
over 200k images is one vectorised mask plus a model reset.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from gender_desktop.data.dataset import Dataset
from gender_desktop.data.labels import LabelStore
from gender_desktop.data.sources import printable
from gender_desktop.ui.thumbnails import ThumbnailLoader

Index = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    ROW = Qt.ItemDataRole.UserRole + 1  # position in the dataset table
    MALE = Qt.ItemDataRole.UserRole + 2
    EDITED = Qt.ItemDataRole.UserRole + 3
    BROKEN = Qt.ItemDataRole.UserRole + 4  # reason the image cannot be shown, or None


class ThumbnailModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader
        self.dataset: Dataset | None = None
        self.store: LabelStore | None = None
        self.rows = np.empty(0, dtype=np.int64)
        self._index_of = np.empty(0, dtype=np.int64)
        loader.ready.connect(self._row_changed)
        loader.failed.connect(lambda row, _reason: self._row_changed(row))

    def set_source(self, dataset: Dataset | None, store: LabelStore | None) -> None:
        self.beginResetModel()
        self.dataset, self.store = dataset, store
        self.loader.set_dataset(dataset)
        self.rows = np.empty(0, dtype=np.int64)
        self._index_of = np.full(len(dataset) if dataset else 0, -1, dtype=np.int64)
        self.endResetModel()

    def set_rows(self, rows: np.ndarray) -> None:
        self.beginResetModel()
        self._index_of[self.rows] = -1
        self.rows = rows
        self._index_of[rows] = np.arange(len(rows))
        self.endResetModel()

    def model_index(self, row: int) -> QModelIndex:
        """The index showing dataset row ``row`` (invalid when filtered out)."""
        pos = int(self._index_of[row]) if 0 <= row < len(self._index_of) else -1
        return self.index(pos) if pos >= 0 else QModelIndex()

    def positions_of(self, rows: list[int] | np.ndarray) -> np.ndarray:
        """Sorted model positions of the dataset ``rows`` that are shown."""
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[(rows >= 0) & (rows < len(self._index_of))]
        positions = self._index_of[rows]
        return np.unique(positions[positions >= 0])

    def refresh_rows(self, rows: np.ndarray) -> None:
        for row in rows:
            self._row_changed(int(row))

    def _row_changed(self, row: int) -> None:
        index = self.model_index(row)
        if index.isValid():
            self.dataChanged.emit(index, index)

    # -- QAbstractListModel -----------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or self.dataset is None or self.store is None:
            return None
        row = int(self.rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return printable(str(self.dataset.table["image_id"].iat[row]))
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.pixmap(row)
        if role == Role.ROW:
            return row
        if role == Role.MALE:
            return int(self.store.male[row])
        if role == Role.EDITED:
            return bool(self.store.male[row] != self.store.original[row])
        if role == Role.BROKEN:
            return self.loader.broken(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            label = "male" if self.store.male[row] else "female"
            edited = self.store.male[row] != self.store.original[row]
            tip = f"{printable(str(self.dataset.table['image_id'].iat[row]))} · {label}"
            tip += " (edited)" if edited else ""
            broken = self.loader.broken(row)
            return tip + (f"\n{broken}" if broken else "")
        return None
