"""The runs table's model: runs as rows, a cross-validation group as one row (mean ± std) whose
children are its folds; and the proxy that sorts and filters it.

The model is refreshed from a list of :class:`RunRecord` made off the GUI thread. When the rows
are the same runs as before (the common case: a running run's epoch count moved), only the
cells change (``dataChanged``), so the selection, scroll position and expanded groups stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont

from gender_desktop.runs.index import RunRecord
from gender_desktop.runs.meta import FAILED, INTERRUPTED, RUNNING
from gender_desktop.ui.experiments.columns import BY_KEY, COLUMNS, Column, group_sort, group_text
from gender_desktop.ui.figures import plain_tooltip

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2  # the run folder ("" for a group row)
STATUS_COLOURS = {RUNNING: "#2f7ed8", INTERRUPTED: "#c77800", FAILED: "#d04040"}
Index = QModelIndex | QPersistentModelIndex


@dataclass(eq=False)
class Node:
    """A row: one run (``record``) or a cross-validation group (``folds``)."""

    record: RunRecord | None = None
    folds: list[RunRecord] = field(default_factory=list)
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    @property
    def key(self) -> str:
        return str(self.record.path) if self.record else f"cv:{self.folds[0].cv_group}"

    @property
    def records(self) -> list[RunRecord]:
        return [self.record] if self.record else list(self.folds)


def build_nodes(records: list[RunRecord]) -> list[Node]:
    """Top-level rows in the listing's order; folds of one ``cv.group`` under one row placed
    where its newest fold is."""
    rows: list[Node] = []
    groups: dict[str, Node] = {}
    for record in records:
        group = record.cv_group
        if not group:
            rows.append(Node(record))
            continue
        if group not in groups:
            groups[group] = Node(folds=[])
            rows.append(groups[group])
        groups[group].folds.append(record)
    for node in groups.values():
        node.folds.sort(
            key=lambda r: r.cv.get("fold", 0) if isinstance(r.cv.get("fold"), int) else 0
        )
        node.children = [Node(r, parent=node) for r in node.folds]
    return rows


def _shape(rows: list[Node]) -> list[tuple[str, tuple[str, ...]]]:
    return [(n.key, tuple(c.key for c in n.children)) for n in rows]


class RunsModel(QAbstractItemModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Node] = []
        self.columns: list[Column] = list(COLUMNS)

    # -- contents ---------------------------------------------------------------------------------
    def set_records(self, records: list[RunRecord]) -> bool:
        """Show ``records``; returns True when the rows changed (a reset), False when only
        their cells did."""
        rows = build_nodes(records)
        if _shape(rows) == _shape(self.rows):
            for old, new in zip(self.rows, rows, strict=True):
                old.record, old.folds = new.record, new.folds
                for child, fresh in zip(old.children, new.children, strict=True):
                    child.record = fresh.record
            if self.rows:
                last = self.columnCount() - 1
                self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, last))
                for i, node in enumerate(self.rows):
                    if node.children:
                        parent = self.index(i, 0)
                        self.dataChanged.emit(
                            self.index(0, 0, parent),
                            self.index(len(node.children) - 1, last, parent),
                        )
            return False
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()
        return True

    def records(self) -> list[RunRecord]:
        return [r for n in self.rows for r in n.records]

    def node(self, index: Index) -> Node | None:
        return index.internalPointer() if index.isValid() else None  # type: ignore[return-value]

    def column_index(self, key: str) -> int:
        return self.columns.index(BY_KEY[key])

    def find(self, path: str) -> QModelIndex:
        """The index of the run folder ``path`` (a fold's under its group), or invalid."""
        for i, node in enumerate(self.rows):
            if node.record and str(node.record.path) == path:
                return self.index(i, 0)
            for j, child in enumerate(node.children):
                if child.record and str(child.record.path) == path:
                    return self.index(j, 0, self.index(i, 0))
        return QModelIndex()

    # -- QAbstractItemModel -------------------------------------------------------------------------
    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        siblings = self.node(parent).children if parent.isValid() else self.rows  # type: ignore[union-attr]
        if not (0 <= row < len(siblings) and 0 <= column < len(self.columns)):
            return QModelIndex()
        return self.createIndex(row, column, siblings[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        node = self.node(index)
        if node is None or node.parent is None:
            return QModelIndex()
        return self.createIndex(self.rows.index(node.parent), 0, node.parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self.rows)
        if parent.column() != 0:
            return 0
        return len(self.node(parent).children)  # type: ignore[union-attr]

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tip or column.title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self.node(index)
        if node is None:
            return None
        column = self.columns[index.column()]
        record = node.record
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(record) if record else group_text(column, node.folds)
        if role == SORT_ROLE:
            return column.sort(record) if record else group_sort(column, node.folds)
        if role == PATH_ROLE:
            return str(record.path) if record else ""
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = _tooltip(node, column)
            return plain_tooltip(tip) if tip else None
        if role == Qt.ItemDataRole.ForegroundRole and column.key == "status" and record:
            colour = STATUS_COLOURS.get(record.status)
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.FontRole and record is None:
            font = QFont()
            font.setBold(True)
            return font
        return None


def _tooltip(node: Node, column: Column) -> str | None:
    record = node.record
    if record is None:
        return f"{len(node.folds)} folds of cross-validation group {node.folds[0].cv_group}: mean ± standard deviation"
    if column.key == "title":
        lines = [str(record.path)]
        if record.note:
            lines.append(record.note)
        if record.problem:
            lines.append(f"Problem: {record.problem}")
        return "\n".join(lines)
    if column.key == "dataset":
        return f"{record.dataset}\n{record.layout} · fingerprint {record.fingerprint}"
    if column.key == "status":
        return record.problem or record.status_message or None
    if column.key == "test" and record.evaluation not in ("", "test"):
        return f"The saved evaluation is of the {record.evaluation} split: no test numbers"
    return None


class RunsFilter(QSortFilterProxyModel):
    """Sort by the columns' sort values (missing values last); filter by status, backbone,
    dataset, sweep and tag, and a search over titles, folder names, notes and tags. A group
    shows when any of its folds passes."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setRecursiveFilteringEnabled(True)
        self.filters: dict[str, str] = {}  # status, backbone, dataset, sweep, tag -> value
        self.search = ""

    def set_filter(self, name: str, value: str) -> None:
        self._refilter(
            lambda: self.filters.update({name: value}) if value else self.filters.pop(name, None)
        )

    def set_search(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "search", text.strip().lower()))

    def _refilter(self, change) -> None:
        """Apply ``change`` to the filter's state and re-filter the rows (Qt 6.10 replaced
        invalidateFilter by begin/endFilterChange; PySide6 6.6 has only the former)."""
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateRowsFilter()

    def accepts(self, record: RunRecord) -> bool:
        f = self.filters
        if "status" in f and record.status != f["status"]:
            return False
        if "backbone" in f and record.backbone != f["backbone"]:
            return False
        if "dataset" in f and record.dataset != f["dataset"]:
            return False
        if "sweep" in f and record.sweep_name != f["sweep"]:
            return False
        if "tag" in f and f["tag"] not in record.tags:
            return False
        if self.search:
            haystack = " ".join(
                [
                    record.title,
                    record.name,
                    record.note,
                    record.backbone,
                    record.sweep_name,
                    *record.tags,
                ]
            )
            return all(word in haystack.lower() for word in self.search.split())
        return True

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:
        model: RunsModel = self.sourceModel()  # type: ignore[assignment]
        node = model.node(model.index(row, 0, parent))
        if node is None:
            return False
        return node.record is not None and self.accepts(node.record)  # groups: via their folds

    def lessThan(self, left: Index, right: Index) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            # Missing values (a run not evaluated) sort last in either order: the "greatest"
            # when ascending, the "least" when descending.
            if self.sortOrder() == Qt.SortOrder.AscendingOrder:
                return a is not None and b is None
            return a is None and b is not None
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
