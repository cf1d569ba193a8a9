"""The Experiments tab: every run of the workspace in one table, and 2+ runs compared.

The table lists in a background :class:`~gender_desktop.ui.workers.Task` every two seconds
while the tab is shown (``runs.index.list_records``: stat-cached, so an unchanged workspace
costs a few thousand ``stat`` calls, none on the GUI thread), so runs started by a sweep or the
Train tab appear and count their epochs while they run. Comparing reads the runs'
predictions in a Task too.

Delete moves runs into the workspace's ``.trash`` (``runs.trash``) and can be undone (the
Undo button in the status line, or Ctrl+Z on this tab); the trash is emptied only with
"Empty trash…". The actions that belong to other tabs (open in Evaluate, train again, resume)
are signals the main window connects (``ui/experiments/actions.py``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.errors import UserError
from gender_desktop.fileio import format_size
from gender_desktop.runs import trash
from gender_desktop.runs.compare import Comparison, compare
from gender_desktop.runs.folder import LAST, workspace_path
from gender_desktop.runs.index import RunRecord, list_records
from gender_desktop.runs.meta import INTERRUPTED, RUNNING, STATES, STOPPED, update_meta
from gender_desktop.ui import settings as app_settings_mod
from gender_desktop.ui.experiments.columns import BY_KEY, COLUMNS, DEFAULT_KEYS
from gender_desktop.ui.experiments.compare_view import CompareView
from gender_desktop.ui.experiments.dialogs import ColumnsDialog, DetailsDialog
from gender_desktop.ui.experiments.model import PATH_ROLE, RunsFilter, RunsModel
from gender_desktop.ui.experiments.report import ReportWriter
from gender_desktop.ui.tasks import TaskSlot
from gender_desktop.ui.workers import Task

COLUMNS_KEY = "experiments/columns"
FILTERS = (("status", "All statuses"), ("backbone", "All backbones"), ("dataset", "All datasets"), ("sweep", "All sweeps"), ("tag", "All tags"))  # fmt: skip
RESUMABLE = (STOPPED, INTERRUPTED)


class ExperimentsPanel(QWidget):
    open_in_evaluate = Signal(str)  # a run folder
    train_again = Signal(str)
    resume_requested = Signal(str)
    refreshed = Signal()  # a listing was shown
    compared = Signal()  # a comparison was shown
    message = Signal(str)  # for the status bar
    undo_changed = Signal()  # a delete can now (or no longer) be undone
    runs_moved = Signal()  # runs went into or out of the trash: the other tabs' pickers reload

    def __init__(
        self, root: Path | None = None, interval_ms: int = 2000, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.root = root  # None: the workspace (read at each listing)
        self.settings: QSettings = app_settings_mod.app_settings()
        self.model = RunsModel(self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.undo_stack: list[list[trash.TrashEntry]] = []
        # the one lifecycle helper (ui/tasks.py): a replaced comparison's late answer is dropped
        self._listing, self._comparing, self._trashing = (
            TaskSlot(self),
            TaskSlot(self),
            TaskSlot(self),
        )
        self._listing.succeeded.connect(self._show_records)
        self._listing.failed.connect(
            lambda message: self.summary.setText(f"Cannot list the runs: {message}")
        )
        self._comparing.succeeded.connect(self._show_comparison)
        self._comparing.failed.connect(
            lambda message: QMessageBox.warning(self, "Cannot compare", message)
        )
        self._comparing.busy_changed.connect(lambda busy: busy or self._update_buttons())
        self._trashing.succeeded.connect(
            lambda n: self.message.emit(f"Deleted {n} run(s) for good")
        )
        self._trashing.failed.connect(
            lambda message: QMessageBox.warning(self, "Trash not emptied", message)
        )
        self._trashing.busy_changed.connect(  # emptied or not: list and buttons again
            lambda busy: busy or (self.refresh(), self._update_buttons())
        )
        self._closing = False
        self._sized = False  # columns fitted to the first listing's contents
        self._in_trash = 0
        self.reports = ReportWriter(self)
        self.reports.message.connect(self.message)
        self.reports.busy_changed.connect(lambda _busy: self._update_buttons())
        self._build()
        self.set_columns(self._saved_columns())
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    # -- construction -------------------------------------------------------------------------------
    def _build(self) -> None:
        table_page = QWidget()
        table_layout = QVBoxLayout(table_page)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addLayout(self._build_bar())
        table_layout.addWidget(self._build_view(), 1)
        table_layout.addLayout(self._build_status())
        self.compare_view = CompareView()
        self.compare_view.back_requested.connect(self.show_table)
        self.stack = QStackedWidget()
        self.stack.addWidget(table_page)
        self.stack.addWidget(self.compare_view)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        for keys, slot, what in (
            ("Delete", self.delete_selected, "Move the selected runs to the trash"),
            ("F2", self.edit_details, "Edit the run's title, tags and note"),
        ):
            shortcut = QShortcut(QKeySequence(keys), self.view)
            shortcut.setWhatsThis(what)  # its line in Help ▸ Keyboard Shortcuts
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(slot)
        self._update_buttons()

    def _build_bar(self) -> QHBoxLayout:
        """Search, the filters, Compare and Columns…"""
        self.search = QLineEdit(
            placeholderText="Search runs: title, folder, note, tag…", clearButtonEnabled=True
        )
        self.search.textChanged.connect(self.proxy.set_search)
        self.filters: dict[str, QComboBox] = {}
        bar = QHBoxLayout()
        bar.addWidget(self.search, 2)
        for name, everything in FILTERS:
            combo = QComboBox()
            combo.addItem(everything, "")
            combo.setToolTip(f"Show only the runs of one {name}")
            combo.currentIndexChanged.connect(
                lambda _i, n=name, c=combo: self.proxy.set_filter(n, c.currentData() or "")
            )
            self.filters[name] = combo
            bar.addWidget(combo, 1)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Compare the selected runs (select two or more)")
        self.compare_button.clicked.connect(self.compare_selected)
        self.report_button = QPushButton("Report…")
        self.report_button.setToolTip(
            "Write the selected runs' comparison as an HTML report (figures inline), or the "
            "metric table as Markdown or CSV"
        )
        self.report_button.clicked.connect(self.report_selected)
        self.columns_button = QPushButton("Columns…")
        self.columns_button.clicked.connect(self.choose_columns)
        bar.addWidget(self.compare_button)
        bar.addWidget(self.report_button)
        bar.addWidget(self.columns_button)
        return bar

    def _build_view(self) -> QTreeView:
        self.view = QTreeView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(self.model.column_index("created"), Qt.SortOrder.DescendingOrder)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAlternatingRowColors(True)
        self.view.setUniformRowHeights(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # runs differ at the end too
        self.view.setStyleSheet("QTreeView::item { padding: 3px 4px; }")
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.doubleClicked.connect(self._double_clicked)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        header = self.view.header()
        header.setSectionsMovable(True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(lambda _p: self.choose_columns())
        return self.view

    def _build_status(self) -> QHBoxLayout:
        """The status line: counts, Undo delete, Empty trash…"""
        self.summary = QLabel()
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setToolTip("Move the last deleted runs back out of the trash (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo_delete)
        self.empty_button = QPushButton("Empty trash…")
        self.empty_button.clicked.connect(self.empty_trash)
        status = QHBoxLayout()
        status.addWidget(self.summary, 1)
        status.addWidget(self.undo_button)
        status.addWidget(self.empty_button)
        return status

    # -- columns --------------------------------------------------------------------------------------
    def _saved_columns(self) -> list[str]:
        value = self.settings.value(COLUMNS_KEY)
        keys = [value] if isinstance(value, str) else list(value or [])
        keys = [k for k in keys if k in BY_KEY]
        return keys or list(DEFAULT_KEYS)

    def shown_columns(self) -> list[str]:
        return [c.key for i, c in enumerate(self.model.columns) if not self.view.isColumnHidden(i)]

    def set_columns(self, keys: list[str]) -> None:
        """Show the columns ``keys`` (the title always) and remember the choice."""
        keys = ["title", *[k for k in keys if k != "title"]]
        for i, column in enumerate(self.model.columns):
            self.view.setColumnHidden(i, column.key not in keys)
        self.settings.setValue(COLUMNS_KEY, keys)

    def choose_columns(self) -> None:
        dialog = ColumnsDialog(self.shown_columns(), self)
        if dialog.exec():
            self.set_columns(dialog.chosen())

    # -- listing ----------------------------------------------------------------------------------------
    def _root(self) -> Path:
        return self.root if self.root is not None else workspace_path()

    def _tick(self) -> None:
        if self.isVisible() and self.stack.currentIndex() == 0:
            self.refresh()

    def refresh(self) -> Task | None:
        """List the runs again in the background (one listing at a time)."""
        if self._closing or self._listing.busy:
            return self._listing.task
        root = self._root()

        def fn(progress, cancel):
            if not root.is_dir():
                return [], 0
            return list_records(root), len(trash.list_trash(root))

        return self._listing.start(fn)

    def _show_records(self, listing: tuple[list[RunRecord], int]) -> None:
        if self._closing:
            return
        records, self._in_trash = listing
        selected = self.selected_paths()
        expanded = self._expanded()
        if self.model.set_records(records):
            self.view.setRootIsDecorated(any(node.children for node in self.model.rows))
            self._restore(selected, expanded)
            if not self._sized and records:
                self._fit_columns()
            elif records:
                self._widen_columns()
        self._update_filters(records)
        self._update_summary(records)
        self._update_buttons()
        self.refreshed.emit()

    def _fit_columns(self) -> None:
        """Columns as wide as their contents once (then the user's widths stay); long titles
        are cut at 300 px (the full name is in the tooltip)."""
        self._sized = True
        self.view.header().resizeSections(QHeaderView.ResizeMode.ResizeToContents)
        title = self.model.column_index("title")
        others = sum(
            self.view.columnWidth(i)
            for i in range(self.model.columnCount())
            if i != title and not self.view.isColumnHidden(i)
        )
        room = self.view.viewport().width() - others - 4  # the title gives way before scrolling
        wanted = min(self.view.columnWidth(title) + 12, 300)
        self.view.setColumnWidth(title, max(240, min(wanted, room)))

    def _widen_columns(self) -> None:
        """Runs listed later (a sweep's trials) can hold wider values ("0.0003", a sweep's
        name): columns grow to show them, never shrink, so widths the user chose stay."""
        title = self.model.column_index("title")
        for column in range(self.model.columnCount()):
            if column == title or self.view.isColumnHidden(column):
                continue
            wanted = max(
                self.view.sizeHintForColumn(column), self.view.header().sectionSizeHint(column)
            )
            if wanted > self.view.columnWidth(column):
                self.view.setColumnWidth(column, wanted)

    def _expanded(self) -> set[str]:
        out = set()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self.view.isExpanded(index):
                node = self.model.node(self.proxy.mapToSource(index))
                if node is not None:
                    out.add(node.key)
        return out

    def _restore(self, selected: list[str], expanded: set[str]) -> None:
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            node = self.model.node(self.proxy.mapToSource(index))
            if node is not None and node.key in expanded:
                self.view.setExpanded(index, True)
        self.select_paths(selected)

    def _update_filters(self, records: list[RunRecord]) -> None:
        values = {
            "status": [s for s in STATES if any(r.status == s for r in records)],
            "backbone": sorted({r.backbone for r in records if r.backbone}),
            "dataset": sorted({r.dataset for r in records if r.dataset}),
            "sweep": sorted({r.sweep_name for r in records if r.sweep_name}),
            "tag": sorted({t for r in records for t in r.tags}),
        }
        for name, combo in self.filters.items():
            wanted = values[name]
            have = [combo.itemData(i) for i in range(1, combo.count())]
            if have == wanted:
                continue
            current = combo.currentData() or ""
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for value in wanted:
                combo.addItem(Path(value).name if name == "dataset" else value, value)
                if name == "dataset":
                    combo.setItemData(combo.count() - 1, value, Qt.ItemDataRole.ToolTipRole)
            if current and current not in wanted:  # the chosen value stays until changed
                combo.addItem(current, current)
            combo.setCurrentIndex(max(combo.findData(current), 0))
            combo.blockSignals(False)

    def _update_summary(self, records: list[RunRecord]) -> None:
        running = sum(r.status == RUNNING for r in records)
        parts = [f"{len(records):,} run{'s' if len(records) != 1 else ''}"]
        if running:
            parts.append(f"{running} running")
        damaged = sum(bool(r.problem) for r in records)
        if damaged:
            parts.append(f"{damaged} with problems (hover the status)")
        in_trash = self._in_trash
        self.empty_button.setEnabled(in_trash > 0)
        self.empty_button.setText(f"Empty trash ({in_trash})…" if in_trash else "Empty trash…")
        if self.undo_stack:
            last = self.undo_stack[-1]
            parts.append(f"moved {len(last)} run{'s' if len(last) != 1 else ''} to the trash")
        self.summary.setText(" · ".join(parts))

    # -- selection --------------------------------------------------------------------------------------
    def selected_paths(self) -> list[str]:
        """The selected runs' folders in table order; a selected group stands for its folds."""
        out: list[str] = []
        for index in self.view.selectionModel().selectedRows():
            node = self.model.node(self.proxy.mapToSource(index))
            if node is None:
                continue
            for record in node.records:
                if str(record.path) not in out:
                    out.append(str(record.path))
        return out

    def selected_records(self) -> list[RunRecord]:
        by_path = {str(r.path): r for r in self.model.records()}
        return [by_path[p] for p in self.selected_paths() if p in by_path]

    def select_paths(self, paths: list[str]) -> None:
        selection = self.view.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for path in paths:
            index = self.proxy.mapFromSource(self.model.find(path))
            if index.isValid():
                if index.parent().isValid():
                    self.view.setExpanded(index.parent(), True)
                selection.select(index, flags)

    def _update_buttons(self) -> None:
        n = len(self.selected_paths())
        self.compare_button.setEnabled(n >= 2)
        self.compare_button.setText(f"Compare {n}" if n >= 2 else "Compare")
        self.report_button.setEnabled(n >= 1 and not self.reports.busy)
        self.report_button.setText("Writing report…" if self.reports.busy else "Report…")
        self.undo_button.setVisible(bool(self.undo_stack))
        self.undo_changed.emit()

    # -- compare ------------------------------------------------------------------------------------------
    def compare_selected(self) -> Task | None:
        paths = self.selected_paths()
        if len(paths) < 2:
            return None
        return self.compare_paths(paths)

    def compare_paths(self, paths: list[str]) -> Task:
        """Compare the runs (reading their predictions in the background), then show it."""
        self.compare_button.setEnabled(False)
        self.compare_button.setText("Comparing…")

        def fn(progress, cancel):
            return compare([Path(p) for p in paths])

        return self._comparing.start(fn)  # a comparison still running is replaced

    def report_selected(self) -> int | None:
        """Ask for a file and write the selected runs' report (in the report child)."""
        return self.reports.ask_and_write(self.selected_paths())

    def _show_comparison(self, comparison: Comparison) -> None:
        if self._closing:
            return
        self.compare_view.show_comparison(comparison)
        self.stack.setCurrentWidget(self.compare_view)
        self.compared.emit()

    def show_table(self) -> None:
        self.stack.setCurrentIndex(0)
        self.refresh()

    # -- editing --------------------------------------------------------------------------------------
    def edit_details(self) -> None:
        records = self.selected_records()
        if len(records) != 1:
            return
        dialog = DetailsDialog(records[0], self)
        if dialog.exec():
            self.set_details(str(records[0].path), **dialog.values())

    def set_details(self, path: str, **changes: object) -> bool:
        """Change a run's title, tags or note (meta.json); a failure is shown, not raised."""
        try:
            update_meta(Path(path), **changes)
        except OSError as exc:
            QMessageBox.warning(
                self,
                "Not saved",
                f"{path}: the run's details could not be saved ({exc.strerror or exc})",
            )
            return False
        self.refresh()
        return True

    # -- delete, undo, trash --------------------------------------------------------------------------
    def delete_selected(self) -> list[trash.TrashEntry]:
        """Ask, then move the selected runs into the trash."""
        records = self.selected_records()
        if not records:
            return []
        names = "\n".join(f"• {r.title}" for r in records[:8]) + ("\n…" if len(records) > 8 else "")
        answer = QMessageBox.question(
            self,
            "Delete runs",
            f"Move {len(records)} run{'s' if len(records) != 1 else ''} to the trash?\n\n{names}\n\n"
            "You can undo this; the trash is only emptied when you say so.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return []
        return self.delete_paths([str(r.path) for r in records])

    def delete_paths(self, paths: list[str]) -> list[trash.TrashEntry]:
        entries, problems = [], []
        for path in paths:
            try:
                entries.append(trash.delete(Path(path)))  # into the trash beside the run
            except UserError as exc:
                problems.append(str(exc))
        if entries:
            self.undo_stack.append(entries)
            self.runs_moved.emit()
            self.message.emit(f"Moved {len(entries)} run(s) to the trash (Undo: Ctrl+Z)")
        if problems:
            QMessageBox.warning(self, "Not deleted", "\n".join(problems))
        self.refresh()
        self._update_buttons()
        return entries

    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    def undo_delete(self) -> list[Path]:
        """Move the last deleted runs back (under a free name where theirs was taken)."""
        if not self.undo_stack:
            return []
        entries = self.undo_stack.pop()
        restored, notes = [], []
        for entry in entries:
            try:
                place = trash.restore(entry)
            except UserError as exc:
                notes.append(str(exc))
                continue
            restored.append(place)
            if place != entry.original:
                notes.append(
                    f"{entry.original.name} was restored as {place.name}: the name was taken meanwhile"
                )
        if notes:
            QMessageBox.information(self, "Restored", "\n".join(notes))
        self.message.emit(f"Restored {len(restored)} run(s)")
        self.runs_moved.emit()
        self.refresh()
        self._update_buttons()
        return restored

    def empty_trash(self) -> Task | None:
        root = self._root()
        entries = trash.list_trash(root)
        if not entries:
            return None
        answer = QMessageBox.question(
            self,
            "Empty trash",
            f"Delete the {len(entries)} run(s) in the trash for good ({format_size(trash.trash_size(root))})? "
            "This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None
        self.undo_stack.clear()
        self.empty_button.setEnabled(False)
        return self._trashing.start(lambda progress, cancel: trash.empty_trash(root))

    # -- context actions ------------------------------------------------------------------------------
    def _double_clicked(self, index: QModelIndex) -> None:
        path = self.proxy.mapToSource(index).data(PATH_ROLE)
        if path:
            self.open_in_evaluate.emit(path)

    def _context_menu(self, point: QPoint) -> None:
        self.context_menu().exec(self.view.viewport().mapToGlobal(point))

    def context_menu(self) -> QMenu:
        """The actions for the selection (built each time: they depend on it)."""
        records = self.selected_records()
        one = records[0] if len(records) == 1 else None
        menu = QMenu(self)
        compare_action = menu.addAction(f"Compare {len(records)} runs", self.compare_selected)
        compare_action.setEnabled(len(records) >= 2)
        report = menu.addAction("Report…", self.report_selected)
        report.setEnabled(bool(records) and not self.reports.busy)
        menu.addSeparator()
        evaluate = menu.addAction(
            "Open in Evaluate", lambda: one and self.open_in_evaluate.emit(str(one.path))
        )
        evaluate.setEnabled(bool(one and one.has_model))
        again = menu.addAction(
            "Train again with these settings", lambda: one and self.train_again.emit(str(one.path))
        )
        again.setEnabled(bool(one and one.settings))
        resume = menu.addAction("Resume", lambda: one and self.resume_requested.emit(str(one.path)))
        resume.setEnabled(bool(one and self.can_resume(one)))
        folder = menu.addAction(
            "Show folder",
            lambda: one and QDesktopServices.openUrl(QUrl.fromLocalFile(str(one.path))),
        )
        folder.setEnabled(one is not None)
        menu.addSeparator()
        details = menu.addAction("Rename, tags and note…", self.edit_details)
        details.setEnabled(one is not None)
        delete = menu.addAction("Delete…", self.delete_selected)
        delete.setEnabled(bool(records) and not any(r.status == RUNNING for r in records))
        return menu

    @staticmethod
    def can_resume(record: RunRecord) -> bool:
        return record.status in RESUMABLE and (record.path / LAST).exists()

    def record(self, path: str) -> RunRecord | None:
        return next((r for r in self.model.records() if str(r.path) == path), None)

    # -- lifetime ---------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def shutdown(self) -> None:
        """Stop listing and wait for the background work (closing the window)."""
        self._closing = True
        self.timer.stop()
        self.reports.shutdown()
        for slot in (self._listing, self._comparing, self._trashing):
            slot.cancel()
            slot.wait()


__all__ = ["COLUMNS", "ExperimentsPanel"]
