"""The Predict panel: drop photos or folders, see Male/Female with the probability per image
(or per face), with the dataset's label where the file belongs to the open dataset, Grad-CAM
overlays on demand, relabeling and "Show in Browser" for the open dataset's images, and a CSV
export.

This module builds the widgets and renders what :class:`~gender_desktop.ui.predict.session.
PredictSession` reports; the session holds the state and the scheduling (model loads,
the prediction queue, Grad-CAM, results). Drops, paste and the file dialogs are handled here:
they are where the paths come from, and everything after that is the session's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QDesktopServices,
    QHideEvent,
    QKeySequence,
    QResizeEvent,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.ml.config import DEFAULT_FRAMING, DEFAULT_TTA
from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.ml.prediction_rows import Order, Show
from gender_desktop.ui import file_dialogs
from gender_desktop.ui.engine import EngineClient
from gender_desktop.ui.predict.delegate import ResultDelegate
from gender_desktop.ui.predict.detail import DetailPane
from gender_desktop.ui.predict.drops import DropHandling
from gender_desktop.ui.predict.files import first_line
from gender_desktop.ui.predict.model import Role
from gender_desktop.ui.predict.session import PredictSession
from gender_desktop.ui.predict.toolbar import ModelLabel, PredictToolbar, StaleBanner, StatusRow
from gender_desktop.ui.predict.view import ResultsView
from gender_desktop.ui.predict.widgets import DropOverlay, DropZone, results_menu
from gender_desktop.ui.runs import RunPicker
from gender_desktop.ui.settings import app_settings

IMAGE_FILTER = (
    "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.gif *.JPG *.JPEG *.PNG);;All files (*)"
)


class PredictPanel(DropHandling, QWidget):
    """Predictions for dropped, opened or pasted images with a trained run's model."""

    model_loaded = Signal(dict)  # the engine's description of the loaded model
    model_failed = Signal(str)
    job_finished = Signal(dict)  # a prediction's result: files, rows, errors, seconds, cancelled
    job_failed = Signal(str)
    exported = Signal(str)  # the CSV path
    heat_ready = Signal(int)  # a results row got its Grad-CAM overlay
    busy_changed = Signal(bool)
    relabel_requested = Signal(list, int)  # dataset rows, 1 Male / 0 Female (as Evaluate's)
    reveal_requested = Signal(list)  # dataset rows to show in the Browse tab

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.engine = EngineClient(
            "predict",
            self,
            release_note="Model released after {idle} idle; it reloads on the next prediction",
        )
        self.session = PredictSession(self.engine, self)
        self.results = self.session.results
        self.dataset_name = ""
        self.device_text = ""
        self.settings = app_settings()
        self._build()
        self._connect()
        self.session.candidates = self._heat_candidates
        self._on_setting_changed()
        self.runs.run_changed.connect(self._on_run_changed)
        self._on_run_changed(self.runs.current())

    # -- construction -----------------------------------------------------------------------------
    def _build(self) -> None:
        self.runs = RunPicker()
        self.model_label = ModelLabel()
        self.toolbar = PredictToolbar()
        bar = self.toolbar
        top = QHBoxLayout()
        top.addWidget(self.runs, 3)
        top.addSpacing(12)
        top.addWidget(self.model_label, 2)
        top.addSpacing(12)
        top.addWidget(bar.settings_box())
        self.framing, self.tta, self.grad_cam = bar.framing, bar.tta, bar.grad_cam
        self.show_combo, self.order_combo = bar.show_combo, bar.order_combo
        self.open_files_button, self.open_folder_button = (
            bar.open_files_button,
            bar.open_folder_button,
        )
        self.paste_button, self.clear_button = bar.paste_button, bar.clear_button
        self.export_button = bar.export_button
        for combo, key, default in (
            (self.framing, "predict/framing", DEFAULT_FRAMING),
            (self.tta, "predict/tta", DEFAULT_TTA),
        ):
            saved = combo.findData(self.settings.value(key, default))
            combo.setCurrentIndex(saved if saved >= 0 else combo.findData(default))
        self.stale_banner = StaleBanner()
        self.delegate = ResultDelegate(self)
        self.view = ResultsView()
        self.view.setItemDelegate(self.delegate)
        self.view.setModel(self.results)
        self.detail = DetailPane()
        self.splitter = QSplitter()
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setCollapsible(0, False)
        self.splitter.setSizes([900, 300])
        self.drop_zone = DropZone()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.drop_zone)
        self.stack.addWidget(self.splitter)
        self.overlay = DropOverlay(self.stack)
        self.status = StatusRow()
        self.summary, self.counts = self.status.summary, self.status.counts
        self.progress, self.cancel_button = self.status.progress, self.status.cancel_button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 6)
        layout.addLayout(top)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.stale_banner)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.status)

    def _connect(self) -> None:
        session = self.session
        self.open_files_button.clicked.connect(self.choose_files)
        self.open_folder_button.clicked.connect(self.choose_folder)
        self.paste_button.clicked.connect(self.paste)
        self.drop_zone.open_files.connect(self.choose_files)
        self.drop_zone.open_folder.connect(self.choose_folder)
        self.drop_zone.paste.connect(self.paste)
        self.clear_button.clicked.connect(self.clear)
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.cancel_button.clicked.connect(self.cancel)
        self.stale_banner.button.clicked.connect(session.repredict)
        self.framing.currentIndexChanged.connect(self._on_setting_changed)
        self.tta.currentIndexChanged.connect(self._on_setting_changed)
        self.grad_cam.toggled.connect(self._on_grad_cam_toggled)
        self.show_combo.currentIndexChanged.connect(self._on_view_changed)
        self.order_combo.currentIndexChanged.connect(self._on_view_changed)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.verticalScrollBar().valueChanged.connect(session.kick)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.doubleClicked.connect(self._open_index)
        self.detail.relabel.connect(self._relabel)
        self.detail.reveal.connect(lambda: self._emit_rows(self.reveal_requested.emit))
        self.results.dataChanged.connect(self._on_data_changed)
        self.results.rowsInserted.connect(self._update_counts)
        self.results.modelReset.connect(self._update_counts)
        self.results.modelReset.connect(self._refresh_detail)
        session.model_changed.connect(self.model_label.show_model)
        session.progressed.connect(self._on_progress)
        session.rows_added.connect(self._on_rows)
        session.summary.connect(self.status.show_summary)
        session.message.connect(self._message)
        session.stale_changed.connect(self._on_stale)
        session.busy_changed.connect(self._on_busy)
        for ours, theirs in (
            (self.model_loaded, session.model_loaded),
            (self.model_failed, session.model_failed),
            (self.job_finished, session.finished),
            (self.job_failed, session.failed),
            (self.exported, session.exported),
            (self.heat_ready, session.heat_ready),
        ):
            theirs.connect(ours)
        paste = QShortcut(QKeySequence.StandardKey.Paste, self, self.paste)
        paste.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        paste.setWhatsThis("Predict the image or files on the clipboard")  # the shortcut sheet
        escape_key = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.cancel)
        escape_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape_key.setWhatsThis("Stop predicting")
        self._update_counts()

    # -- public API -------------------------------------------------------------------------------
    def set_dataset(self, dataset: Any, store: Any = None) -> None:
        """The dataset open in the browser (and its label store): predictions of its own files
        show their label, and can be relabeled or shown in the browser from the detail pane."""
        self.session.set_dataset(dataset, store)
        self.dataset_name = dataset.name if dataset is not None else ""
        self._update_hint()
        self._refresh_detail()

    def labels_changed(self) -> None:
        """Label edits or undo in the browser: results take today's labels."""
        self._keeping_current(self.session.refresh_labels)
        self._update_counts()

    def set_device_text(self, text: str) -> None:
        self.device_text = text
        self._update_hint()

    def refresh_runs(self, select: str | None = None) -> None:
        """Reload the run list (a training finished); ``select`` picks a run folder."""
        self.runs.refresh(select)

    def predict_paths(self, paths: list[str]) -> bool:
        """Predict files and folders (the child expands folders). False with a message when
        there is no model to predict with."""
        if not self.session.predict_paths(paths):
            return False
        self.stack.setCurrentWidget(self.splitter)
        self._update_controls()
        return True

    def cancel(self) -> None:
        """Stop the running prediction between two batches and drop the queued ones."""
        self.session.cancel()

    def clear(self) -> None:
        """Remove every result (a running prediction is cancelled and its late rows dropped)."""
        self.session.clear()
        self.summary.clear()
        self.stack.setCurrentWidget(self.drop_zone)
        self._update_controls()

    def is_busy(self) -> bool:
        """Predicting (or about to): what Cancel stops."""
        return self.session.is_busy()

    def shutdown(self) -> None:
        """End the engine child and wait for the small file tasks (closing the window)."""
        self.session.shutdown()
        self.settings.sync()

    # -- commands ---------------------------------------------------------------------------------
    def choose_files(self) -> None:
        files = file_dialogs.open_files(self, "photos", "Predict image files", IMAGE_FILTER)
        if files:
            self.predict_paths(files)

    def choose_folder(self) -> None:
        folder = file_dialogs.choose_folder(self, "photos", "Predict every image in a folder")
        if folder:
            self.predict_paths([folder])

    def export_csv(self, path: str | None = None) -> None:
        """Save every result (whatever the filter shows) as CSV, in the background."""
        if not self.results.total():
            self._message("Nothing to export yet", error=True)
            return
        if path is None:
            name = f"predictions-{Path(self.runs.current()).name}.csv"
            path, _ = file_dialogs.save_file(
                self, "export", "Export predictions", name, "CSV (*.csv)"
            )
            if not path:
                return
        self.session.export_csv(str(path))

    def _relabel(self, male: int) -> None:
        self._emit_rows(lambda rows: self.relabel_requested.emit(rows, male))

    def _emit_rows(self, emit) -> None:
        """The open dataset's rows of the selected results (or the one in the detail pane)."""
        rows = self.session.dataset_rows(self._selected_rows() or [self.detail.row])
        if rows:
            emit(rows)

    # -- rendering the session --------------------------------------------------------------------
    def _on_run_changed(self, run: str) -> None:
        self.session.set_run(run)
        self._update_hint()
        self._refresh_detail()

    def _on_progress(self, done: int, total: int, text: str) -> None:
        if done == total == 0:  # a prediction starts: an earlier message has had its time
            self._update_hint()
            self.summary.clear()
        self.status.show_progress(done, total, text)

    def _on_rows(self, _rows: list[PredictionRow]) -> None:
        if not self.view.currentIndex().isValid() and self.results.rowCount():
            self.view.selectionModel().setCurrentIndex(
                self.results.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )

    def _on_busy(self, busy: bool) -> None:
        if not busy and self.results.total() == 0:
            self.stack.setCurrentWidget(self.drop_zone)  # the message shows there too
        self._update_controls()
        self.busy_changed.emit(busy)

    def _on_stale(self, files: int) -> None:
        self.stale_banner.set_stale(files, self.session.setting, self.is_busy())

    def _message(self, text: str, error: bool = False) -> None:
        """A line for the user: under the results, or in the drop zone while that shows."""
        empty = self.results.total() == 0 and not self.is_busy()
        if error and (empty or self.stack.currentWidget() is self.drop_zone):
            line = first_line(text)
            self.drop_zone.set_hint(line if len(line) <= 240 else line[:239] + "…", warning=True)
            self.drop_zone.hint.setToolTip(text)
            self.summary.clear()
            return
        self.status.show_line(text, error)

    # -- settings and views -----------------------------------------------------------------------
    def _on_setting_changed(self, *_args: object) -> None:
        """Framing or TTA chosen: remembered, and the results made otherwise are predicted
        again (the session decides when)."""
        framing, tta = str(self.framing.currentData()), str(self.tta.currentData())
        self.settings.setValue("predict/framing", framing)
        self.settings.setValue("predict/tta", tta)
        self.session.set_setting(framing, tta)
        self.delegate.setting = self.session.setting
        self.view.viewport().update()
        self._refresh_detail()

    def _on_grad_cam_toggled(self, on: bool) -> None:
        self.delegate.show_heat = on
        self.session.set_grad_cam(on)
        self.view.viewport().update()
        self._refresh_detail()

    def _heat_candidates(self) -> Iterator[int]:
        """Grad-CAM's order: the selected result, then those on screen."""
        current = self.view.currentIndex()
        if current.isValid():
            yield self.results.position(current)
        if self.isVisible():
            yield from self.view.positions_in_sight()

    def _on_view_changed(self, *_args: object) -> None:
        """A new filter or order: the selected result stays selected (and in sight) if shown."""
        show, order = Show(self.show_combo.currentData()), Order(self.order_combo.currentData())
        self._keeping_current(lambda: self.results.set_view(show, order))
        self.session.kick()

    def _keeping_current(self, change) -> None:
        """Run ``change`` (it may reset the results model); the selected result stays
        selected and in sight when it is still shown."""
        current = self.results.position(self.view.currentIndex())
        change()
        index = self.results.index_of(current) if current >= 0 else QModelIndex()
        if index.isValid() and index != self.view.currentIndex():
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)
        else:
            self._refresh_detail()

    def _on_current_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self._refresh_detail()
        self.session.kick()

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, *_args) -> None:
        current = self.view.currentIndex()
        if current.isValid() and top_left.row() <= current.row() <= bottom_right.row():
            self._refresh_detail()

    def _refresh_detail(self) -> None:
        current = self.view.currentIndex()
        if not current.isValid():
            self.detail.show_row(None)
            return
        position = self.results.position(current)
        row = self.results.row_at(position)
        self.detail.show_row(
            row,
            current.data(Role.PREVIEW),
            current.data(Role.HEAT),
            self.results.heat_state(position),
            self.results.heat_message(position),
            self.grad_cam.isChecked(),
            self.session.setting,
            bool(self.session.dataset_rows([row])),
        )

    def _selected_rows(self) -> list[PredictionRow]:
        indexes = sorted(self.view.selectionModel().selectedIndexes(), key=lambda i: i.row())
        return [self.results.row_at(self.results.position(i)) for i in indexes]

    def _context_menu(self, point: QPoint) -> None:
        rows = self._selected_rows()
        if rows:
            in_browser = self.detail.reveal.emit if self.session.dataset_rows(rows) else None
            menu = results_menu(self, rows, in_browser)
            menu.exec(self.view.viewport().mapToGlobal(point))

    def _open_index(self, index: QModelIndex) -> None:
        row = index.data(Role.ROW)
        if row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(row.path))

    # -- state shown ------------------------------------------------------------------------------
    def _update_counts(self, *_args: object) -> None:
        counts = self.results.counts
        self.toolbar.set_counts(counts)
        self.counts.setText(counts.line())
        self._update_controls()

    def _update_controls(self) -> None:
        busy = self.is_busy()
        has_rows = self.results.total() > 0
        self.status.set_busy(busy, has_rows)
        self.toolbar.enable_results(has_rows, busy)
        self.stale_banner.button.setEnabled(not busy)

    def _update_hint(self) -> None:
        self.drop_zone.show_run(self.runs.current(), self.device_text, self.dataset_name)

    # -- Qt events: drops land here ---------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.session.set_active(True)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.session.set_active(False)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.overlay.setGeometry(self.stack.rect())
        self.session.kick()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.view.viewport().update()
        super().changeEvent(event)
