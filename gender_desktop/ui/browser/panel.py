"""The Browse panel: filter sidebar | thumbnail grid | detail pane, and labeling.

Label edits go through the core :class:`LabelStore` (journaled and fsynced before the grid shows
them), so what the user sees as done is on disk.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.data.dataset import Dataset
from gender_desktop.data.filters import Filter, apply_filter, describe
from gender_desktop.data.labels import Change, LabelStore
from gender_desktop.ui.browser.delegate import ThumbnailDelegate
from gender_desktop.ui.browser.detail import DetailPane
from gender_desktop.ui.browser.filters import FilterPanel
from gender_desktop.ui.browser.model import Role, ThumbnailModel
from gender_desktop.ui.resources import icon
from gender_desktop.ui.thumbnails import ThumbnailLoader

THUMB_SIZE = 112


class ThumbnailGrid(QListView):
    """A wrapping list in list mode: with uniform item sizes its layout stays cheap at 200k items
    (icon mode would position every item individually)."""

    def __init__(self, thumb_size: int) -> None:
        super().__init__()
        self.setObjectName("thumbnailGrid")
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMovement(QListView.Movement.Static)
        self.setMouseTracking(True)
        self.setIconSize(QSize(thumb_size, thumb_size))


class BrowserPanel(QWidget):
    status_changed = Signal(str)  # "test: 1,745 female / 1,250 male · ..."
    labels_changed = Signal()  # edits or undo/redo: the window updates counts and actions
    image_failed = Signal(str, str)  # image id, reason

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.store: LabelStore | None = None
        self.filter = Filter()
        self.loader = ThumbnailLoader(THUMB_SIZE, self)
        self.model = ThumbnailModel(self.loader)
        self.loader.failed.connect(self._on_thumbnail_failed)

        self.filters = FilterPanel()
        self.grid = ThumbnailGrid(THUMB_SIZE)
        self.grid.setModel(self.model)
        self.grid.setItemDelegate(ThumbnailDelegate(THUMB_SIZE, self.grid))
        self.detail = DetailPane()
        self.banner = QLabel()
        self.banner.setObjectName("demoBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.empty_hint = QLabel("Open a dataset: File ▸ Open, or drop a folder, CSV or .zip here.")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.male_button = QToolButton(objectName="labelMale")
        self.female_button = QToolButton(objectName="labelFemale")
        self.auto_advance = QCheckBox("Advance to the next image after labeling")
        self.auto_advance.setChecked(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.male_button, 1)
        buttons.addWidget(self.female_button, 1)
        self.detail.controls.addLayout(buttons)
        self.detail.controls.addWidget(self.auto_advance)

        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        centre_layout.addWidget(self.banner)
        centre_layout.addWidget(self.empty_hint, 1)
        centre_layout.addWidget(self.grid, 1)
        self.grid.hide()
        self.splitter = QSplitter()
        self.splitter.addWidget(self.filters)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 760, 340])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self.filters.changed.connect(self.set_filter)
        self.grid.selectionModel().selectionChanged.connect(self._on_selection)
        self.grid.selectionModel().currentChanged.connect(lambda *_: self._on_selection())

    # -- dataset --------------------------------------------------------------------------------
    def set_dataset(self, dataset: Dataset | None) -> None:
        if self.store is not None:
            self.store.close()
        self.dataset = dataset
        self.store = LabelStore(dataset) if dataset is not None else None
        self.model.set_source(dataset, self.store)
        self.filters.set_dataset(dataset)
        self.filter = self.filters.current()
        self.grid.setVisible(dataset is not None)
        self.empty_hint.setVisible(dataset is None)
        demo = dataset is not None and dataset.is_demo
        self.banner.setVisible(demo)
        self.banner.setText(
            "Demo dataset: synthetic cartoon faces generated by gender-desktop, not real people. "
            "About 2 % of its labels are deliberately wrong, so there is something to fix."
        )
        self.detail.clear()
        self._refilter()
        if dataset is not None and len(self.model.rows):
            self.select_rows([int(self.model.rows[0])])
        self.labels_changed.emit()

    def close_dataset(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
        self.loader.shutdown()

    # -- filtering ------------------------------------------------------------------------------
    def set_filter(self, f: Filter) -> None:
        self.filter = f
        self._refilter()

    def _refilter(self) -> None:
        if self.dataset is None or self.store is None:
            self.model.set_rows(np.empty(0, dtype=np.int64))
            self.status_changed.emit("No dataset open")
            return
        selected = self.selected_rows()
        rows = apply_filter(self.dataset.table, self.store.male, self.store.edited, self.filter)
        self.model.set_rows(rows)
        self._emit_status()
        still = [r for r in selected if self.model.model_index(r).isValid()]
        if still:
            self.select_rows(still)
        else:
            self.detail.clear("No image selected" if len(rows) else "No image matches")

    def _emit_status(self) -> None:
        if self.dataset is not None and self.store is not None:
            text = describe(self.filter, self.store.male, self.model.rows, len(self.dataset))
            self.status_changed.emit(text)

    def shown_rows(self) -> np.ndarray:
        return self.model.rows

    # -- selection ------------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        indexes = self.grid.selectionModel().selectedIndexes()
        return sorted(int(i.data(Role.ROW)) for i in indexes)

    def select_rows(self, rows: list[int]) -> None:
        selection = self.grid.selectionModel()
        selection.clearSelection()
        first = None
        for row in rows:
            index = self.model.model_index(row)
            if index.isValid():
                selection.select(index, QItemSelectionModel.SelectionFlag.Select)
                first = first or index
        if first is not None:
            selection.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.grid.scrollTo(first)
        self._on_selection()

    def _on_selection(self) -> None:
        if self.dataset is None or self.store is None:
            return
        rows = self.selected_rows()
        enabled = bool(rows)
        self.male_button.setEnabled(enabled)
        self.female_button.setEnabled(enabled)
        if len(rows) == 1:
            row = rows[0]
            self.detail.show_row(
                self.dataset, row, int(self.store.male[row]), int(self.store.original[row])
            )
        elif rows:
            males = int(self.store.male[rows].sum())
            self.detail.clear(f"{len(rows):,} images selected")
            self.detail.label_line.setText(f"{males:,} male / {len(rows) - males:,} female")

    # -- labeling -------------------------------------------------------------------------------
    def label_selected(self, male: int) -> Change | None:
        """Label the selection; with auto-advance, move on to the next image."""
        if self.store is None:
            return None
        rows = self.selected_rows()
        if not rows:
            return None
        current = self.grid.currentIndex()
        position = current.row() if current.isValid() else self.model.model_index(rows[0]).row()
        change = self.store.set_male(rows, male)  # journaled and fsynced before it is shown
        advance = self.auto_advance.isChecked() and len(rows) == 1
        if self._filter_depends_on_labels():
            self._refilter()
            if advance or not self.selected_rows():
                still_shown = self.model.model_index(rows[0]).isValid()
                self._select_position(position + (1 if still_shown else 0))
        else:
            self.model.refresh_rows(np.asarray(rows))
            if advance:
                self._select_position(position + 1)
            else:
                self._on_selection()
        self._edited()
        return change

    def undo(self) -> Change | None:
        return self._replay(self.store.undo() if self.store else None)

    def redo(self) -> Change | None:
        return self._replay(self.store.redo() if self.store else None)

    def _replay(self, change: Change | None) -> Change | None:
        """Show an undone or redone change: refresh it and select the images it touched."""
        if change is None or self.store is None:
            return None
        rows = self.store.rows_of(change)
        if self._filter_depends_on_labels():
            self._refilter()
        else:
            self.model.refresh_rows(rows)
        self.select_rows([int(r) for r in rows if self.model.model_index(int(r)).isValid()])
        self._edited()
        return change

    def _select_position(self, position: int) -> None:
        if len(self.model.rows):
            self.select_rows([int(self.model.rows[min(position, len(self.model.rows) - 1)])])

    def _filter_depends_on_labels(self) -> bool:
        return self.filter.gender != "all" or self.filter.edited_only

    def _edited(self) -> None:
        self._emit_status()
        self.labels_changed.emit()

    def _on_thumbnail_failed(self, row: int, reason: str) -> None:
        if self.dataset is not None:
            image_id = str(self.dataset.table["image_id"].iat[row])
            if self.dataset.mark_corrupt(image_id, reason):
                self.image_failed.emit(image_id, reason)

    def set_label_actions(self, male_action, female_action) -> None:
        self.male_button.setDefaultAction(male_action)
        self.female_button.setDefaultAction(female_action)
        self.male_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.female_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.male_button.setIcon(icon("male"))
        self.female_button.setIcon(icon("female"))
