"""The results grid: a QListView in icon mode whose cells share the width between them, so the
cards fill the row instead of leaving a gap on the right."""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QFrame, QListView, QWidget

from gender_desktop.ui.predict.delegate import CARD

SPACING = 8


class ResultsView(QListView):
    """Uniform cards laid out in batches (10,000 rows stay fluid), never accepting drops itself:
    drops go to the panel, which predicts them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictResults")
        self.setViewMode(QListView.ViewMode.IconMode)
        # IconMode makes items movable, which turns on drag and drop in the viewport: a file
        # dropped on the list would then land here instead of in the panel.
        self.setMovement(QListView.Movement.Static)
        self.setDragEnabled(False)
        self.viewport().setAcceptDrops(False)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setGridSize(QSize(CARD.width() + SPACING, CARD.height() + SPACING))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)  # no width flicker
        self.setWordWrap(False)
        self.setMouseTracking(True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_Hover)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._fit_grid()
        super().resizeEvent(event)

    def _fit_grid(self) -> None:
        width = max(self.viewport().width() - 2, 1)
        smallest = CARD.width() + SPACING
        columns = max(1, width // smallest)
        cell = QSize(max(smallest, width // columns), CARD.height() + SPACING)
        if cell != self.gridSize():
            self.setGridSize(cell)

    def positions_in_sight(self) -> Iterator[int]:
        """Results positions on screen, top-left first (sampled per grid cell: O(visible));
        the model's ``position`` maps a shown row to its arrival position."""
        viewport = self.viewport().rect()
        grid = self.gridSize()
        model = self.model()
        for y in range(grid.height() // 2, viewport.height() + grid.height(), grid.height() // 2):
            for x in range(grid.width() // 2, viewport.width(), grid.width() // 2):
                index = self.indexAt(QPoint(x, min(y, viewport.height() - 1)))
                if index.isValid():
                    yield model.position(index)  # type: ignore[attr-defined]
