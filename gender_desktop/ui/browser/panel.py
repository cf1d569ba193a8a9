"""The Browse panel: filter sidebar | thumbnail grid | detail pane, and labeling.

Label edits go through the core :class:`LabelStore` (journaled and fsynced before the grid shows
them), so what the user sees as done is on disk.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.data.dataset import Dataset
from gender_desktop.data.filters import Filter, apply_filter, describe
from gender_desktop.data.labels import Change, LabelStore
from gender_desktop.errors import UserError
from gender_desktop.ui.browser.delegate import ThumbnailDelegate
from gender_desktop.ui.browser.detail import DetailPane
from gender_desktop.ui.browser.filters import FilterPanel
from gender_desktop.ui.browser.grid import ThumbnailGrid
from gender_desktop.ui.browser.model import ThumbnailModel
from gender_desktop.ui.resources import icon
from gender_desktop.ui.thumbnails import ThumbnailLoader

THUMB_SIZE = 112


class BrowserPanel(QWidget):
    status_changed = Signal(str)  # "test: 1,745 female / 1,250 male · ..."
    labels_changed = Signal()  # edits or undo/redo: the window updates counts and actions
    image_failed = Signal(str, str)  # image id, reason
    selection_changed = Signal()
    edit_failed = Signal(str)  # a label edit or undo that could not be saved: nothing changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.store: LabelStore | None = None
        self.filter = Filter()
        # A review list (e.g. suspected label errors, in ranked order) shown instead of the
        # filtered images until the user goes back to all images.
        self.review_rows: np.ndarray | None = None
        self.loader = ThumbnailLoader(THUMB_SIZE, self)
        self.model = ThumbnailModel(self.loader)
        self.loader.failed.connect(self._on_thumbnail_failed)

        self.filters = FilterPanel()
        delegate = ThumbnailDelegate(THUMB_SIZE)
        self.grid = ThumbnailGrid(delegate.cell_size())
        self.grid.setModel(self.model)
        self.grid.setItemDelegate(delegate)
        delegate.setParent(self.grid)
        self.detail = DetailPane()
        self.banner = QLabel()
        self.banner.setObjectName("demoBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.review_bar = QWidget(objectName="reviewBar")
        self.review_label = QLabel()
        self.review_label.setWordWrap(True)
        self.review_exit = QPushButton("Show All Images")
        self.review_exit.clicked.connect(self.end_review)
        review_layout = QHBoxLayout(self.review_bar)
        review_layout.setContentsMargins(10, 4, 10, 4)
        review_layout.addWidget(self.review_label, 1)
        review_layout.addWidget(self.review_exit)
        self.review_bar.hide()
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
        centre_layout.addWidget(self.review_bar)
        centre_layout.addWidget(self.empty_hint, 1)
        centre_layout.addWidget(self.grid, 1)
        self.grid.hide()
        self.splitter = QSplitter()
        self.splitter.addWidget(self.filters)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 760, 340])
        # The welcome page (set_welcome) stands in for the three panes while no dataset is open.
        self.pages = QStackedWidget()
        self.pages.addWidget(self.splitter)
        self.welcome: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        self.filters.changed.connect(self.set_filter)
        self.grid.selectionModel().selectionChanged.connect(self._on_selection)
        self.grid.selectionModel().currentChanged.connect(lambda *_: self._on_selection())

    # -- dataset --------------------------------------------------------------------------------
    def set_welcome(self, page: QWidget) -> None:
        """The page shown instead of the empty panes while no dataset is open."""
        self.welcome = page
        self.pages.insertWidget(0, page)
        self._show_page()

    def _show_page(self) -> None:
        showing_welcome = self.dataset is None and self.welcome is not None
        self.pages.setCurrentWidget(self.welcome if showing_welcome else self.splitter)

    def set_dataset(self, dataset: Dataset | None, store: LabelStore | None = None) -> None:
        """Show ``dataset`` with its label ``store`` (opened here when not given)."""
        if self.store is not None and self.store is not store:
            self.close_store()
        self.dataset = dataset
        self.store = store if store is not None or dataset is None else LabelStore(dataset)
        self.model.set_source(dataset, self.store)
        self.filters.set_dataset(dataset)
        self.filter = self.filters.current()
        self.grid.setVisible(dataset is not None)
        self.empty_hint.setVisible(dataset is None)
        self._show_page()
        demo = dataset is not None and dataset.is_demo
        self.banner.setVisible(demo)
        self.banner.setText(
            "Demo dataset: synthetic cartoon faces generated by gender-desktop, not real people. "
            "About 2 % of its labels are deliberately wrong, so there is something to fix."
        )
        self.detail.clear()
        self.review_rows = None
        self.review_bar.hide()
        self._refilter()
        if dataset is not None and len(self.model.rows):
            self.select_rows([int(self.model.rows[0])])
        self.labels_changed.emit()

    def close_dataset(self) -> None:
        if self.store is not None:
            self.close_store()
            self.store = None
        self.loader.shutdown()

    def close_store(self) -> None:
        """Close the label store; a snapshot that cannot be written (full disk) is reported, the
        journal keeps every edit and the lock is released either way."""
        try:
            self.store.close()
        except UserError as exc:
            self.edit_failed.emit(str(exc))

    def _saved(self, action, *args) -> tuple[bool, Change | None]:
        """Run a store action; (False, None) when it could not be saved (the store and the
        journal are then unchanged and the user is told why)."""
        try:
            return True, action(*args)
        except UserError as exc:
            self.edit_failed.emit(str(exc))
            return False, None

    # -- filtering ------------------------------------------------------------------------------
    def set_filter(self, f: Filter) -> None:
        self.filter = f
        if self.review_rows is not None:  # choosing a filter means: back to the whole dataset
            self.review_rows = None
            self.review_bar.hide()
        self._refilter()

    # -- review lists and other panels' requests -----------------------------------------------
    def show_review(self, rows: np.ndarray | list[int], title: str) -> None:
        """Show exactly ``rows`` in this order (e.g. suspected label errors, most suspicious
        first) for keyboard relabeling; the filters are left as they were for afterwards."""
        if self.dataset is None:
            return
        self.review_rows = np.asarray(rows, dtype=np.int64)
        self.review_label.setText(title)
        self.review_bar.show()
        self._refilter()
        if len(self.review_rows):
            self.select_rows([int(self.review_rows[0])])
        self.grid.setFocus()

    def end_review(self) -> None:
        if self.review_rows is None:
            return
        keep = self.selected_rows()
        self.review_rows = None
        self.review_bar.hide()
        self._refilter()
        self.reveal_rows(keep)

    def reveal_rows(self, rows: list[int]) -> None:
        """Select ``rows`` and scroll to them; filters that hide them are cleared first."""
        if self.dataset is None or not rows:
            return
        if not all(self.model.model_index(r).isValid() for r in rows):
            if self.review_rows is not None:
                self.review_rows = None
                self.review_bar.hide()
            self.filters.clear(emit=False)
            self.filter = self.filters.current()
            self._refilter()
        self.select_rows(rows)
        self.grid.setFocus()

    def relabel_rows(self, rows: list[int], male: int) -> Change | None:
        """Label ``rows`` from another panel (the Evaluate gallery): the same journaled store
        and the same undo history as labeling here."""
        if self.store is None or not rows:
            return None
        saved, change = self._saved(self.store.set_male, rows, male)
        if not saved:
            return None
        if self._filter_depends_on_labels():
            self._refilter(keep_scroll=True)
        else:
            self.model.refresh_rows(np.asarray(rows))
            self._on_selection()
        self._edited()
        return change

    def _refilter(self, keep_scroll: bool = False) -> None:
        """Apply the filter; ``keep_scroll`` after a label edit, so the grid does not jump."""
        if self.dataset is None or self.store is None:
            self.model.set_rows(np.empty(0, dtype=np.int64))
            self.status_changed.emit("No dataset open")
            return
        selected = self.selected_rows()
        scroll = self.grid.verticalScrollBar().value()
        if self.review_rows is not None:
            rows = self.review_rows
        else:
            rows = apply_filter(self.dataset.table, self.store.male, self.store.edited, self.filter)
        self.model.set_rows(rows)
        if keep_scroll:
            self.grid.verticalScrollBar().setValue(scroll)
        self.grid.empty_text = "" if len(rows) else "No image matches these filters"
        self._emit_status()
        still = [r for r in selected if self.model.model_index(r).isValid()]
        self.select_rows(still)  # also when empty: a model reset clears the selection silently

    def _emit_status(self) -> None:
        if self.dataset is not None and self.store is not None:
            text = describe(self.filter, self.store.male, self.model.rows, len(self.dataset))
            self.status_changed.emit(text)

    # -- selection ------------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        """Dataset rows of the selection, from its ranges (cheap even for 200k selected)."""
        ranges = self.grid.selectionModel().selection()
        parts = [self.model.rows[r.top() : r.bottom() + 1] for r in ranges]
        return np.unique(np.concatenate(parts)).tolist() if parts else []

    def select_rows(self, rows: list[int]) -> None:
        """Select dataset ``rows`` (those shown) as one selection of contiguous ranges."""
        positions = self.model.positions_of(rows)
        selection = QItemSelection()
        if len(positions):
            breaks = np.flatnonzero(np.diff(positions) != 1)
            starts = np.concatenate(([positions[0]], positions[breaks + 1]))
            ends = np.concatenate((positions[breaks], [positions[-1]]))
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                selection.select(self.model.index(start), self.model.index(end))
        model = self.grid.selectionModel()
        model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if len(positions):
            first = self.model.index(int(positions[0]))
            model.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.grid.scrollTo(first)
        self._on_selection()

    def _on_selection(self) -> None:
        self.selection_changed.emit()
        if self.dataset is None or self.store is None:
            return
        rows = self.selected_rows()
        if not rows:
            self.detail.clear("No image selected" if len(self.model.rows) else "No image matches")
        elif len(rows) == 1:
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
        saved, change = self._saved(self.store.set_male, rows, male)  # fsynced before shown
        if not saved:
            return None
        advance = self.auto_advance.isChecked() and len(rows) == 1
        if self._filter_depends_on_labels():
            self._refilter(keep_scroll=True)
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
        return self._replay(self._saved(self.store.undo)[1] if self.store else None)

    def redo(self) -> Change | None:
        return self._replay(self._saved(self.store.redo)[1] if self.store else None)

    def _replay(self, change: Change | None) -> Change | None:
        """Show an undone or redone change: refresh it and select the images it touched. When
        the filter now hides them all (redoing "Male" under a Female filter), the selection
        moves to the image that took their place, as labeling does, instead of vanishing."""
        if change is None or self.store is None:
            return None
        rows = self.store.rows_of(change)
        shown_before = self.model.positions_of(rows)
        current = self.grid.currentIndex()
        position = int(shown_before[0]) if len(shown_before) else current.row()
        if self._filter_depends_on_labels():
            self._refilter(keep_scroll=True)
        else:
            self.model.refresh_rows(rows)
        still = [int(r) for r in rows if self.model.model_index(int(r)).isValid()]
        if still:
            self.select_rows(still)
        else:
            self._select_position(max(position, 0))
        self._edited()
        return change

    def _select_position(self, position: int) -> None:
        if len(self.model.rows):
            self.select_rows([int(self.model.rows[min(position, len(self.model.rows) - 1)])])

    def _filter_depends_on_labels(self) -> bool:
        if self.review_rows is not None:
            return False  # a review list keeps its images whatever their new labels
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
