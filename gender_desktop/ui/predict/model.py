"""The results list: one item per prediction row (an image, or one face of a photo).

Rows arrive from the engine in batches of up to 64; each batch is one ``beginInsertRows`` so a
10,000-image folder costs ~160 insertions, not 10,000 layouts. The preview array that came with a
row is turned into a QImage once, on arrival (128 px: microseconds), and the array is dropped so
the row's pixels are held only once. Grad-CAM overlays are cached per row until the model (run)
changes. A filter and an order let the user look at errors, wrong predictions or the least
confident ones first (numpy over the rows: milliseconds for 10,000).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QImage

from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.ml.prediction_rows import (
    Counts,
    Order,
    Show,
    show_mask,
    sort_keys,
    summary_text,
    tooltip,
)
from gender_desktop.ui.heatmap import to_qimage

Index = QModelIndex | QPersistentModelIndex

__all__ = ["Counts", "HeatState", "Order", "ResultsModel", "Role", "Show", "to_qimage"]


class Role(IntEnum):
    ROW = Qt.ItemDataRole.UserRole + 1  # the PredictionRow
    PREVIEW = Qt.ItemDataRole.UserRole + 2  # QImage of what the model saw, or None
    HEAT = Qt.ItemDataRole.UserRole + 3  # QImage with the Grad-CAM overlay, or None
    HEAT_STATE = Qt.ItemDataRole.UserRole + 4  # HeatState
    POSITION = Qt.ItemDataRole.UserRole + 5  # arrival order of the row


class HeatState(IntEnum):
    NONE = 0
    PENDING = 1
    DONE = 2
    FAILED = 3


@dataclass
class _Item:
    row: PredictionRow
    preview: QImage | None
    heat: QImage | None = None
    heat_state: HeatState = HeatState.NONE
    heat_message: str = ""


class ResultsModel(QAbstractListModel):
    """Every prediction row of the panel; the model's rows are the ones the filter shows, in
    the chosen order.

    Why not a QSortFilterProxyModel: its comparisons call back into Python, and sorting 10,000
    results took over a second on the GUI thread. Here the shown rows are a numpy array of
    positions (as in the browser's grid): a filter or order change is one vectorised mask and
    a stable argsort (milliseconds), and rows arriving while sorted are inserted in place by
    binary search, so the selection and scroll position survive a running prediction.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._items: list[_Item] = []
        self._p: list[float] = []  # p_male per position, NaN for errors (for the masks)
        self._wrong: list[bool] = []
        self._shown = np.empty(0, dtype=np.int64)  # positions, in display order
        self._keys = np.empty(0, dtype=np.float64)  # their sort keys (ascending)
        self.showing = Show.ALL
        self.order = Order.INPUT
        self.counts = Counts()

    # -- changes ----------------------------------------------------------------------------------
    def append(self, messages: list[dict[str, Any]]) -> list[PredictionRow]:
        """Add a batch of ``PredictionRow.to_message()`` dicts (one insertion in input order)."""
        if not messages:
            return []
        first = len(self._items)
        for message in messages:
            preview = message.get("preview")
            row = PredictionRow.from_message(message)
            image = to_qimage(preview) if isinstance(preview, np.ndarray) else None
            self._items.append(_Item(row, image))
            self._p.append(np.nan if row.p_male is None else row.p_male)
            self._wrong.append(row.wrong)
            self.counts.add(row)
        positions = np.arange(first, len(self._items), dtype=np.int64)
        positions = positions[self._mask(positions)]
        keys = self._sort_keys(positions)
        if self.order == Order.INPUT:
            if len(positions):
                end = len(self._shown)
                self.beginInsertRows(QModelIndex(), end, end + len(positions) - 1)
                self._shown = np.concatenate([self._shown, positions])
                self._keys = np.concatenate([self._keys, keys])
                self.endInsertRows()
        else:
            for position, key in zip(positions.tolist(), keys.tolist(), strict=True):
                at = int(np.searchsorted(self._keys, key, side="right"))  # ties: arrival order
                self.beginInsertRows(QModelIndex(), at, at)
                self._shown = np.insert(self._shown, at, position)
                self._keys = np.insert(self._keys, at, key)
                self.endInsertRows()
        return [item.row for item in self._items[first:]]

    def clear(self) -> None:
        self.beginResetModel()
        self._items, self._p, self._wrong = [], [], []
        self._shown = np.empty(0, dtype=np.int64)
        self._keys = np.empty(0, dtype=np.float64)
        self.counts = Counts()
        self.endResetModel()

    def set_view(self, showing: Show | None = None, order: Order | None = None) -> None:
        """Change the filter and/or the order: the shown rows are recomputed at once."""
        if showing is not None:
            self.showing = Show(showing)
        if order is not None:
            self.order = Order(order)
        self.beginResetModel()
        positions = np.arange(len(self._items), dtype=np.int64)
        positions = positions[self._mask(positions)]
        keys = self._sort_keys(positions)
        ranks = np.argsort(keys, kind="stable")
        self._shown, self._keys = positions[ranks], keys[ranks]
        self.endResetModel()

    def _mask(self, positions: np.ndarray) -> np.ndarray:
        p = np.asarray(self._p, dtype=np.float64)[positions]
        return show_mask(p, np.asarray(self._wrong, dtype=bool)[positions], self.showing)

    def _sort_keys(self, positions: np.ndarray) -> np.ndarray:
        p = np.asarray(self._p, dtype=np.float64)[positions]
        return sort_keys(p, positions, self.order)

    def remove(self, positions: list[int]) -> None:
        """Drop the rows at ``positions`` (re-predicted with another setting); the others keep
        their order, overlays and heat states, under new positions."""
        gone = set(positions)
        self._rebuild([item for k, item in enumerate(self._items) if k not in gone])

    def reset_pending(self) -> None:
        """Overlays asked for but never to arrive (their request was dropped) may be asked again."""
        for item in self._items:
            if item.heat_state == HeatState.PENDING:
                item.heat_state = HeatState.NONE

    def dataset_ids(self) -> list[str]:
        """The image ids of rows that are images of the open dataset, each once."""
        return list(dict.fromkeys(i.row.image_id for i in self._items if i.row.image_id))

    def set_labels(self, labels: dict[str, str | None]) -> bool:
        """New dataset labels by image id (an edit, an undo; None: not the open dataset's
        image any more); True when any row changed. Counts follow, and so does the filter when
        it shows disagreements (the only one that depends on labels)."""
        changed: list[int] = []
        for position, item in enumerate(self._items):
            row = item.row
            if row.image_id not in labels or labels[row.image_id] == row.label:
                continue
            self.counts.add(row, -1)
            row.label = labels[row.image_id]
            if row.label is None:
                row.image_id = row.split = None
            self.counts.add(row)
            self._wrong[position] = row.wrong
            changed.append(position)
        if changed and self.showing == Show.WRONG:
            self.set_view()
        elif changed:
            for position in changed:
                self._changed(position)
        return bool(changed)

    def _rebuild(self, items: list[_Item]) -> None:
        self._items = items
        self._p = [np.nan if i.row.p_male is None else i.row.p_male for i in items]
        self._wrong = [i.row.wrong for i in items]
        self.counts = Counts.of(i.row for i in items)
        self.set_view()

    def set_heat(self, position: int, image: QImage) -> None:
        item = self._items[position]
        item.heat, item.heat_state, item.heat_message = image, HeatState.DONE, ""
        self._changed(position)

    def set_heat_state(self, position: int, state: HeatState, message: str = "") -> None:
        item = self._items[position]
        item.heat_state, item.heat_message = state, message
        self._changed(position)

    def clear_heat(self) -> None:
        """Forget every overlay (another model: its evidence is elsewhere)."""
        for item in self._items:
            item.heat, item.heat_state, item.heat_message = None, HeatState.NONE, ""
        if len(self._shown):
            self.dataChanged.emit(self.index(0), self.index(len(self._shown) - 1))

    def _changed(self, position: int) -> None:
        index = self.index_of(position)
        if index.isValid():
            self.dataChanged.emit(index, index)

    # -- reading ----------------------------------------------------------------------------------
    def total(self) -> int:
        """Every row, whatever the filter shows."""
        return len(self._items)

    def position(self, index: Index) -> int:
        """The arrival position of the row ``index`` shows (-1 for an invalid index)."""
        if not index.isValid() or not 0 <= index.row() < len(self._shown):
            return -1
        return int(self._shown[index.row()])

    def index_of(self, position: int) -> QModelIndex:
        """Where ``position`` is shown (invalid when the filter hides it)."""
        found = np.flatnonzero(self._shown == position)
        return self.index(int(found[0])) if len(found) else QModelIndex()

    def row_at(self, position: int) -> PredictionRow:
        return self._items[position].row

    def heat_message(self, position: int) -> str:
        return self._items[position].heat_message

    def heat_state(self, position: int) -> HeatState:
        return self._items[position].heat_state

    def rows(self) -> list[PredictionRow]:
        """Every row in arrival order (what the CSV export writes)."""
        return [item.row for item in self._items]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._shown)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        position = self.position(index)
        if position < 0:
            return None
        item = self._items[position]
        row = item.row
        if role == Qt.ItemDataRole.DisplayRole:
            return Path(row.path).name
        if role == Role.ROW:
            return row
        if role == Role.PREVIEW:
            return item.preview
        if role == Role.HEAT:
            return item.heat
        if role == Role.HEAT_STATE:
            return item.heat_state
        if role == Role.POSITION:
            return position
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(row)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{Path(row.path).name}: {summary_text(row)}"
        return None
