"""The Evaluate panel: how good a run's model is on a split, where it fails, and which
failures are really label errors.

A view over :class:`~gender_desktop.ui.evaluation.session.EvaluationSession`, which holds the
state and runs the jobs (reading a run's saved evaluation, Evaluate, Check the Train Split,
Export, Grad-CAM); the panel builds the widgets, passes the user's choices on and renders the
session's signals. Everything on screen follows the decision threshold: metric cards, the
confusion matrix (click a cell to see its images), the ROC point, the per-class table, the
slices (click a row to see its images) and the galleries. Relabeling from a gallery goes
through the browser's label store, so Ctrl+Z undoes it there as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.data.dataset import Dataset
from gender_desktop.data.labels import LabelStore
from gender_desktop.ml.evaluation_views import Scores
from gender_desktop.ui import file_dialogs
from gender_desktop.ui.evaluation.images import ImagesTab
from gender_desktop.ui.evaluation.session import EvaluationSession, GalleryItems
from gender_desktop.ui.evaluation.slices import SlicesView
from gender_desktop.ui.evaluation.summary import SummaryView
from gender_desktop.ui.runs import RunPicker

IMAGES_TAB = 2


class EvaluationPanel(QWidget):
    relabel_requested = Signal(list, int)  # dataset rows, 1 Male / 0 Female
    reveal_requested = Signal(list)  # dataset rows to show in the browser
    review_requested = Signal(list, str)  # ranked dataset rows, title
    open_requested = Signal(str)  # a dataset path to open
    evaluated = Signal(dict)  # the evaluation that is now shown
    exported = Signal(list)  # the export results
    crossval_done = Signal(dict)  # the k-fold summary
    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = EvaluationSession(self)
        self.engine = self.session.engine  # the window watches it (memory released, closing)
        self.cams = self.session.cams
        self._build_top()
        self.progress = QProgressBar(textVisible=True)
        self.progress.setFormat("")
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.info = QLabel(wordWrap=True, objectName="hint")
        # Long run and dataset names wrap or shorten here; they never widen the window.
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary = SummaryView()
        # The widgets tests and the window reach for, by their old names.
        self.cards, self.confusion = self.summary.cards, self.summary.confusion
        self.per_class, self.roc = self.summary.per_class, self.summary.roc
        self.spin, self.slider = self.summary.threshold.spin, self.summary.threshold.slider
        self.slices_view = SlicesView()
        self.slices = self.slices_view.table
        self.images = ImagesTab()
        self.view_combo, self.gallery = self.images.view_combo, self.images.gallery
        self.crossval_button = self.images.crossval_button
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.summary, "Summary")
        self.tabs.addTab(self.slices_view, "Slices")
        self.tabs.addTab(self.images, "Images")
        self.empty = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.body = QStackedWidget()
        self.body.addWidget(self.empty)
        self.body.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.addLayout(self.top)
        layout.addWidget(self.progress)
        layout.addWidget(self.info)
        layout.addWidget(self.body, 1)
        self._connect_widgets()
        self._connect_session()
        self._update_dataset_choices()
        self.set_run(self.runs.current())

    def _build_top(self) -> None:
        self.runs = RunPicker()
        self.data_combo = QComboBox()
        self.data_combo.setToolTip("The dataset to evaluate on (label edits included)")
        self.data_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.data_combo.setMinimumContentsLength(16)
        self.split_combo = QComboBox()
        for split in ("test", "val", "train"):
            self.split_combo.addItem(split, split)
        self.split_combo.setToolTip(
            "The split the metrics are computed on; val and test are always predicted too, for "
            "the label-error finder"
        )
        self.evaluate_button = QPushButton("Evaluate", objectName="primaryButton")
        self.evaluate_button.setToolTip(
            "Predict the split with the run's best weights and compute every metric"
        )
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.export_button = QPushButton("Export Model…")
        self.export_button.setToolTip(
            "Write the run's model as TorchScript and ONNX (preprocessing in the metadata), each "
            "checked against the original by running both"
        )
        self.top = QHBoxLayout()
        self.top.addWidget(self.runs, 4)
        self.top.addWidget(QLabel("Dataset:"))
        self.top.addWidget(self.data_combo, 1)
        self.top.addWidget(QLabel("Split:"))
        for widget in (self.split_combo, self.evaluate_button, self.cancel_button):
            self.top.addWidget(widget)
        self.top.addWidget(self.export_button)

    def _connect_widgets(self) -> None:
        self.runs.run_changed.connect(self.set_run)
        self.evaluate_button.clicked.connect(self.evaluate)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self._choose_export_folder)
        self.summary.threshold.changed.connect(self.session.set_threshold)
        self.confusion.cell_clicked.connect(self.show_cell)
        self.slices_view.slice_clicked.connect(self.show_slice)
        self.images.view_chosen.connect(self.session.select)
        self.images.review_button.clicked.connect(self._review)
        self.crossval_button.clicked.connect(lambda: self.check_train_split())
        self.images.open_dataset.connect(self._open_evaluated_dataset)
        selection = self.gallery.grid.selectionModel()
        selection.selectionChanged.connect(lambda *_: self._on_gallery_selection())
        selection.currentChanged.connect(lambda *_: self._on_gallery_selection())
        self.gallery.loader.ready.connect(self._on_thumbnail)
        detail = self.gallery.detail
        detail.relabel.connect(self.label_selected)
        detail.show_in_browser.connect(self._reveal)
        detail.grad_cam_toggled.connect(lambda _on: self._on_gallery_selection())
        self.tabs.currentChanged.connect(lambda _i: self.selection_changed.emit())

    def _connect_session(self) -> None:
        s = self.session
        s.emptied.connect(self._show_empty)
        s.scored.connect(self._show_scores)
        s.gallery_changed.connect(self._show_gallery)
        s.loaded.connect(self._show_evaluation)
        s.usable_changed.connect(lambda _u: self._update_buttons())
        s.busy_changed.connect(self._on_busy)
        s.job_started.connect(self.info.setText)
        s.job_progress.connect(self._on_progress)
        s.job_failed.connect(self.info.setText)
        s.crossval_done.connect(self.crossval_done)
        s.runs_written.connect(lambda: self.runs.refresh())
        s.export_busy_changed.connect(lambda _b: self._update_buttons())
        s.export_ended.connect(self.info.setText)
        s.exported.connect(self.exported)
        s.cam_updated.connect(self._on_gallery_selection)
        s.cam_failed.connect(
            lambda message: self.gallery.detail.cam_note.setText(f"Grad-CAM failed: {message}")
        )

    # -- what the tests and the window read -------------------------------------------------------
    @property
    def evaluation(self) -> dict[str, Any] | None:
        """The evaluation on screen (None while loading or when there is none)."""
        return self.session.evaluation

    @property
    def dataset(self) -> Dataset | None:
        return self.session.dataset

    @property
    def store(self) -> LabelStore | None:
        return self.session.store

    # -- inputs from the window -------------------------------------------------------------------
    def set_dataset(self, dataset: Dataset | None, store: LabelStore | None) -> None:
        self.gallery.model.set_source(dataset, store)
        self.session.set_dataset(dataset, store)
        self._update_dataset_choices(prefer_open=True)

    def labels_changed(self) -> None:
        """Label edits or undo in the browser: repaint badges and the detail pane."""
        self.gallery.model.layoutChanged.emit()
        self._on_gallery_selection()

    def refresh_runs(self, select: str | None = None) -> None:
        self.runs.refresh(select)
        if select:
            self.set_run(select)

    def set_run(self, run: str) -> None:
        self.session.set_run(run)
        self._update_dataset_choices()

    # -- jobs -------------------------------------------------------------------------------------
    def evaluate(self) -> int | None:
        return self.session.evaluate(self.data_combo.currentData(), self.split_combo.currentData())

    def check_train_split(self, folds: int = 5) -> int | None:
        return self.session.check_train_split(folds)

    def cancel(self) -> None:
        self.session.cancel()
        self.cancel_button.setEnabled(False)
        self.progress.setFormat("Cancelling…")

    def _choose_export_folder(self) -> None:
        run = self.session.run
        if run:  # the run folder exists; a folder typed in that does not is refused there
            folder = file_dialogs.choose_folder(self, "export", "Export the model into", run)
            if folder:
                self.export_model(folder)

    def export_model(self, folder: str) -> int | None:
        return self.session.export(folder)

    def _on_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
            self.progress.setFormat("Starting the engine…")
        self._update_buttons()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{message}: {done:,} / {total:,}")

    def _update_buttons(self) -> None:
        usable, busy = self.session.usable, self.session.busy
        self.evaluate_button.setEnabled(usable and not busy)
        self.crossval_button.setEnabled(usable and not busy)
        self.cancel_button.setEnabled(busy)
        self.export_button.setEnabled(usable and not self.session.exports.busy)

    def _update_dataset_choices(self, prefer_open: bool = False) -> None:
        keep = None if prefer_open else self.data_combo.currentData()
        self.data_combo.blockSignals(True)
        self.data_combo.clear()
        for text, source in self.session.dataset_choices():
            self.data_combo.addItem(text, source)
            self.data_combo.setItemData(
                self.data_combo.count() - 1, source or text, Qt.ItemDataRole.ToolTipRole
            )
        self.data_combo.setCurrentIndex(max(self.data_combo.findData(keep), 0))
        self.data_combo.blockSignals(False)

    # -- rendering the session --------------------------------------------------------------------
    def _show_empty(self, text: str) -> None:
        self.empty.setText(text)
        self.body.setCurrentWidget(self.empty)
        self.info.setText("")
        self.images.show_items(self.session.gallery())

    def _show_evaluation(self, evaluation: dict[str, Any]) -> None:
        split = evaluation["split"]
        self.split_combo.setCurrentIndex(max(self.split_combo.findData(split), 0))
        self.body.setCurrentWidget(self.tabs)
        self.info.setText(evaluation_note(evaluation, len(self.session.saved.part)))
        self.roc.show_curve(evaluation["roc"])
        self._update_dataset_choices()
        self.evaluated.emit(evaluation)

    def _show_scores(self, scores: Scores) -> None:
        evaluation = self.session.evaluation or {}
        self.summary.show_metrics(
            scores.metrics,
            evaluation.get("roc", {}).get("auc"),
            evaluation.get("train_seconds"),
            scores.threshold,
        )
        self.slices_view.show_rows(scores.slices, scores.attributes, scores.metrics["accuracy"])
        self.gallery.delegate.threshold = scores.threshold
        self.gallery.model.threshold = scores.threshold

    def _show_gallery(self, items: GalleryItems) -> None:
        self.images.show_items(items)

    def show_cell(self, key: str) -> None:
        """A confusion-matrix cell was clicked: show exactly those images."""
        self.images.choose(key)
        self.tabs.setCurrentIndex(IMAGES_TAB)

    def show_slice(self, name: str) -> None:
        """A Slices row was clicked: show that slice's images, its errors first."""
        self.images.choose_slice(name)
        self.tabs.setCurrentIndex(IMAGES_TAB)

    def _open_evaluated_dataset(self) -> None:
        source = (self.evaluation or {}).get("dataset", {}).get("source")
        if source:
            self.open_requested.emit(source)

    def _review(self) -> None:
        rows = [int(r) for r in self.gallery.model.rows]
        if rows:
            title = (
                f"Reviewing {len(rows):,} suspected label errors of {Path(self.session.run).name}, "
                "the most suspicious first. Press M or F to relabel; Ctrl+Z undoes."
            )
            self.review_requested.emit(rows, title)

    def _reveal(self) -> None:
        rows = self.gallery.selected_rows()
        if rows:
            self.reveal_requested.emit(rows)

    # -- selection, relabeling, Grad-CAM ----------------------------------------------------------
    def selected_rows(self) -> list[int]:
        return self.gallery.selected_rows() if self.tabs.currentIndex() == IMAGES_TAB else []

    def label_selected(self, male: int) -> None:
        """Relabel the selected gallery images (M / F keys or the buttons), then move on."""
        rows = self.selected_rows()  # only what the user can see (the Images tab)
        if not rows:
            return
        position = self.gallery.current_position()
        self.relabel_requested.emit(rows, male)
        self.labels_changed()
        if len(rows) == 1:
            self.gallery.select_position(position + 1)

    def _on_thumbnail(self, row: int) -> None:
        if self.gallery.selected_rows() == [row] and not self.gallery.detail.grad_cam.isChecked():
            self._on_gallery_selection()

    def _on_gallery_selection(self) -> None:
        self.selection_changed.emit()
        detail, dataset, store = self.gallery.detail, self.dataset, self.store
        rows = self.gallery.selected_rows()
        if dataset is None or store is None or not rows:
            detail.clear("Select an image" if len(self.gallery.model.rows) else "Nothing to show")
            return
        if len(rows) > 1:
            detail.clear(f"{len(rows):,} images selected\nM / F relabels them all")
            for button in (detail.male_button, detail.female_button, detail.browser_button):
                button.setEnabled(True)
            return
        row = rows[0]
        index = self.gallery.model.model_index(row)
        p = float(self.gallery.model.p_male[index.row()]) if index.isValid() else 0.5
        image_id = str(dataset.table["image_id"].iat[row])
        detail.show_item(
            image_id,
            str(dataset.table["split"].iat[row]),
            int(store.male[row]),
            int(store.original[row]),
            p,
            self.session.threshold,
            self.gallery.loader.pixmap(row),
        )
        if detail.grad_cam.isChecked():
            detail.show_cam(self.session.cam(image_id))
        else:
            detail.cam_note.setText("")

    def shutdown(self) -> None:
        self.session.shutdown()
        self.gallery.shutdown()


def evaluation_note(evaluation: dict[str, Any], images: int) -> str:
    """The line above the tabs: what was evaluated, with which weights, where and when."""
    data = evaluation.get("dataset", {})
    when = evaluation.get("evaluated_at", "").replace("T", " ")
    note = (
        f"{data.get('name', '?')} · {evaluation['split']} split · {images:,} images · "
        f"{evaluation.get('checkpoint', 'best.pt')} (epoch {evaluation.get('epoch', '?')}) · "
        f"{evaluation.get('device', '')} · evaluated {when}"
    )
    edits = evaluation.get("label_edits")
    if isinstance(edits, dict) and edits.get("count"):
        note += f" · {edits['count']:,} label edits applied"
    if evaluation.get("skipped_images"):
        note += f" · {evaluation['skipped_images']:,} unreadable images skipped"
    if evaluation.get("same_dataset_as_training") is False:
        note += " · a different dataset from the one the run trained on"
    return note
