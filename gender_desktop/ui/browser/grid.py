"""A thumbnail grid view whose cost depends on what is on screen, not on the dataset size.

QListView in a wrapping mode lays out every item on each model reset (hundreds of ms at 200k
items, with a Python ``rowCount`` call per item), which would make every filter change stall the
window. Here the layout is arithmetic: cell ``i`` sits at row ``i // columns``; painting,
hit-testing and selection regions only touch the visible cells. Selection, keyboard handling,
tooltips and delegates come from QAbstractItemView as usual.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPalette, QRegion, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyleOptionViewItem

CursorAction = QAbstractItemView.CursorAction


class ThumbnailGrid(QAbstractItemView):
    def __init__(self, cell: QSize) -> None:
        super().__init__()
        self.setObjectName("thumbnailGrid")
        self.cell = cell
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Always on: a scroll bar appearing after a filter change would narrow the viewport,
        # change the column count and move every cell under the user's eyes.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.empty_text = ""  # painted centred when there is nothing to show
        self._press_point: QPoint | None = None  # content coordinates of a plain press
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -- geometry ---------------------------------------------------------------------------------
    def count(self) -> int:
        model = self.model()
        return model.rowCount() if model is not None else 0

    def columns(self) -> int:
        return max(1, self.viewport().width() // self.cell.width())

    def _left(self) -> int:
        return max(0, (self.viewport().width() - self.columns() * self.cell.width()) // 2)

    def _cell_rect(self, i: int) -> QRect:
        cols = self.columns()
        x = self._left() + (i % cols) * self.cell.width()
        y = (i // cols) * self.cell.height() - self.verticalScrollBar().value()
        return QRect(x, y, self.cell.width(), self.cell.height())

    def _cell_at(self, point: QPoint, clamp: bool = False) -> int:
        cols, n = self.columns(), self.count()
        col = (point.x() - self._left()) // self.cell.width()
        row = (point.y() + self.verticalScrollBar().value()) // self.cell.height()
        if clamp:
            col = min(max(col, 0), cols - 1)
            row = max(row, 0)
            return min(row * cols + col, n - 1)
        if not 0 <= col < cols or row < 0:
            return -1
        i = row * cols + col
        return i if i < n else -1

    def visible_range(self) -> range:
        cols, n = self.columns(), self.count()
        value, height = self.verticalScrollBar().value(), self.viewport().height()
        top = value // self.cell.height()
        bottom = (value + max(height, 1) - 1) // self.cell.height()
        return range(min(top * cols, n), min((bottom + 1) * cols, n))

    def updateGeometries(self) -> None:
        rows = -(-self.count() // self.columns())
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, rows * self.cell.height() - self.viewport().height()))
        bar.setPageStep(self.viewport().height())
        bar.setSingleStep(max(1, self.cell.height() // 4))
        super().updateGeometries()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.updateGeometries()

    def reset(self) -> None:
        super().reset()
        self.verticalScrollBar().setValue(0)
        self.updateGeometries()
        self.viewport().update()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().scroll(dx, dy)

    # -- QAbstractItemView interface ----------------------------------------------------------------
    def visualRect(self, index: QModelIndex) -> QRect:
        if not index.isValid():
            return QRect()
        return self._cell_rect(index.row())

    def indexAt(self, point: QPoint) -> QModelIndex:
        i = self._cell_at(point)
        return self.model().index(i, 0) if i >= 0 else QModelIndex()

    def scrollTo(self, index: QModelIndex, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        if not index.isValid():
            return
        rect = self._cell_rect(index.row())
        bar = self.verticalScrollBar()
        height = self.viewport().height()
        if hint == QAbstractItemView.ScrollHint.PositionAtCenter:
            bar.setValue(bar.value() + rect.center().y() - height // 2)
        elif rect.top() < 0 or hint == QAbstractItemView.ScrollHint.PositionAtTop:
            bar.setValue(bar.value() + rect.top())
        elif rect.bottom() > height:
            bar.setValue(bar.value() + rect.bottom() - height + 1)

    def moveCursor(self, action: CursorAction, modifiers) -> QModelIndex:
        n = self.count()
        if n == 0:
            return QModelIndex()
        current = self.currentIndex()
        i = current.row() if current.isValid() else -1
        cols = self.columns()
        page = max(1, self.viewport().height() // self.cell.height()) * cols
        moves = {
            CursorAction.MoveLeft: i - 1,
            CursorAction.MovePrevious: i - 1,
            CursorAction.MoveRight: i + 1,
            CursorAction.MoveNext: i + 1,
            CursorAction.MoveUp: i - cols,
            CursorAction.MoveDown: i + cols,
            CursorAction.MovePageUp: i - page,
            CursorAction.MovePageDown: i + page,
            CursorAction.MoveHome: 0,
            CursorAction.MoveEnd: n - 1,
        }
        target = moves.get(action, i)
        if i < 0:
            target = 0
        if action == CursorAction.MoveDown and target >= n and i // cols < (n - 1) // cols:
            target = n - 1  # into a shorter last row, as QListView does
        elif action in (CursorAction.MoveUp, CursorAction.MoveDown) and not 0 <= target < n:
            target = i  # no wrap-around at the first and last rows
        return self.model().index(min(max(target, 0), n - 1), 0)

    def horizontalOffset(self) -> int:
        return 0

    def verticalOffset(self) -> int:
        return self.verticalScrollBar().value()

    def isIndexHidden(self, index: QModelIndex) -> bool:
        return False

    def setSelection(self, rect: QRect, command) -> None:
        """Select the images between the two ends of ``rect`` in reading order (a grid is one
        sequence, so shift-click selects a run, as in file managers)."""
        if self.count() == 0:
            return
        rect = rect.normalized()
        corners = [rect.topLeft(), rect.bottomRight(), rect.topRight(), rect.bottomLeft()]
        cells = [self._cell_at(p, clamp=True) for p in corners]
        anchor = self.currentIndex().row() if self.currentIndex().isValid() else -1
        if self._press_point is not None:  # a drag: it runs from where the button went down
            press = self._press_point - QPoint(0, self.verticalScrollBar().value())
            anchor = self._cell_at(press, clamp=True)
        if anchor in cells[2:]:
            first, last = cells[2], cells[3]
        else:
            first, last = cells[0], cells[1]
        first, last = min(first, last), max(first, last)
        model = self.model()
        selection = QItemSelection(model.index(first, 0), model.index(last, 0))
        self.selectionModel().select(selection, command)

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        visible = self.visible_range()
        region = QRegion()
        for part in selection:
            start = max(part.top(), visible.start)
            stop = min(part.bottom(), visible.stop - 1)
            for i in range(start, stop + 1):
                region += self._cell_rect(i)
        return region

    # -- painting -----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        model, selection = self.model(), self.selectionModel()
        if model is None or selection is None:
            return
        if self.count() == 0 and self.empty_text:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        delegate = self.itemDelegate()
        current = self.currentIndex()
        hover = self.viewport().mapFromGlobal(self.cursor().pos())
        exposed = event.rect()
        for i in self.visible_range():
            rect = self._cell_rect(i)
            if not rect.intersects(exposed):
                continue
            index = model.index(i, 0)
            option.rect = rect
            state = QStyle.StateFlag.State_Enabled
            if selection.isSelected(index):
                state |= QStyle.StateFlag.State_Selected
            if index == current and self.hasFocus():
                state |= QStyle.StateFlag.State_HasFocus
            if rect.contains(hover):
                state |= QStyle.StateFlag.State_MouseOver
            option.state = state
            delegate.paint(painter, option, index)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        plain = not event.modifiers() & (
            Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
        )
        point = event.position().toPoint() + QPoint(0, self.verticalScrollBar().value())
        self._press_point = point if plain else None
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        self._press_point = None
