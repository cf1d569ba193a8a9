"""The Evaluate panel: how good a run's model is on a split, where it fails, and which
failures are really label errors.

A run's saved evaluation (``evaluation.json`` + ``predictions.csv``, written at the end of
training or by Evaluate) is read in a background task; Evaluate runs the engine child on the
chosen dataset and split. Everything on screen is recomputed from the predictions when the
decision threshold moves: metric cards, the confusion matrix (click a cell to see its images),
the ROC point, the per-class table, the slices and the galleries. Relabeling from a gallery
goes through the browser's label store, so Ctrl+Z undoes it there as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
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
from gender_desktop.errors import UserError
from gender_desktop.ml import metrics
from gender_desktop.ml.results import SavedEvaluation, label_vector, load_evaluation
from gender_desktop.runs.catalog import cached_run_info
from gender_desktop.runs.folder import RunFolder
from gender_desktop.ui import file_dialogs
from gender_desktop.ui.engine import EngineClient
from gender_desktop.ui.evaluation.gallery import Gallery, overlay
from gender_desktop.ui.evaluation.gradcam import GradCams
from gender_desktop.ui.evaluation.slices import SlicesView
from gender_desktop.ui.evaluation.summary import SummaryView
from gender_desktop.ui.runs import RunPicker
from gender_desktop.ui.workers import Task

VIEWS = {
    "misclassified": "Misclassified (most confident first)",
    "male_as_female": "Male predicted Female",
    "female_as_male": "Female predicted Male",
    "male_correct": "Male predicted Male",
    "female_correct": "Female predicted Female",
    "label_errors": "Suspected label errors (out-of-sample, ranked)",
}


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
        self.dataset: Dataset | None = None
        self.store: LabelStore | None = None
        self.run = ""
        self.evaluation: dict[str, Any] | None = None
        self.predictions: pd.DataFrame | None = None
        self.part: pd.DataFrame | None = None  # the evaluated split's rows
        self.slice_index = metrics.SliceIndex([], [], np.zeros((0, 0), dtype=bool))
        self.suspects = pd.DataFrame()  # the label-error ranking
        self.part_rows = np.empty(0, dtype=np.int64)  # their dataset rows (-1 when not open)
        self.threshold = 0.5
        self._request: int | None = None
        self._load_token = 0
        self.engine = EngineClient(
            "evaluation",
            self,
            release_note="Evaluation model released after {idle} idle; it reloads when needed",
        )
        self.engine.progressed.connect(self._on_progress)
        self.engine.finished.connect(self._on_finished)
        self.engine.failed.connect(self._on_failed)
        self.cams = GradCams(self.engine, self)
        self.cams.updated.connect(self._on_gallery_selection)
        self.cams.failed.connect(
            lambda message: self.gallery.detail.cam_note.setText(f"Grad-CAM failed: {message}")
        )

        # -- top bar --
        self.runs = RunPicker()
        self.data_combo = QComboBox()
        self.data_combo.setToolTip("The dataset to evaluate on (label edits included)")
        self.split_combo = QComboBox()
        for split in ("test", "val", "train"):
            self.split_combo.addItem(split, split)
        self.split_combo.setToolTip(
            "The split the metrics are computed on; val and test are always predicted too, for "
            "the label-error finder"
        )
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setObjectName("primaryButton")
        self.evaluate_button.setToolTip(
            "Predict the split with the run's best weights and compute every metric"
        )
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.export_button = QPushButton("Export Model…")
        self.export_button.setToolTip(
            "Write the run's model as TorchScript and ONNX (preprocessing in the metadata), each "
            "checked against the original by running both"
        )
        self._export_request: int | None = None
        top = QHBoxLayout()
        top.addWidget(self.runs, 3)
        top.addWidget(QLabel("Dataset:"))
        top.addWidget(self.data_combo, 2)
        top.addWidget(QLabel("Split:"))
        top.addWidget(self.split_combo)
        top.addWidget(self.evaluate_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.export_button)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setFormat("")
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setObjectName("hint")

        self.summary = SummaryView()
        # The widgets tests and the window reach for, by their old names.
        self.cards, self.confusion = self.summary.cards, self.summary.confusion
        self.per_class, self.roc = self.summary.per_class, self.summary.roc
        self.spin, self.slider = self.summary.threshold.spin, self.summary.threshold.slider
        self.slices_view = SlicesView()
        self.slices = self.slices_view.table

        # -- gallery tab --
        self.view_combo = QComboBox()
        for key, text in VIEWS.items():
            self.view_combo.addItem(text, key)
        self.gallery_count = QLabel(wordWrap=True)
        # Long counts wrap instead of widening the window.
        self.gallery_count.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.crossval_button = QPushButton("Check the Train Split Too")
        self.crossval_button.setToolTip(
            "Val and test images are out-of-sample; the train split is not. This trains 5 fresh "
            "heads on the run's backbone features, each on 4/5 of the train split, and scores "
            "the fifth it did not see: the list then covers the train images too (seconds)."
        )
        self._request_kind = "evaluate"
        self.review_button = QPushButton("Review in Browser")
        self.review_button.setToolTip(
            "Show this list, in this order, in the Browse tab and relabel with M / F"
        )
        self.gallery_note = QLabel(wordWrap=True)
        self.gallery_note.setObjectName("hint")
        self.open_dataset_button = QPushButton("Open That Dataset")
        self.gallery = Gallery()
        gallery_top = QHBoxLayout()
        gallery_top.addWidget(QLabel("Show:"))
        gallery_top.addWidget(self.view_combo)
        gallery_top.addWidget(self.gallery_count, 1)
        gallery_top.addWidget(self.crossval_button)
        gallery_top.addWidget(self.review_button)
        self.gallery_stack = QStackedWidget()
        message = QWidget()
        message_layout = QVBoxLayout(message)
        message_layout.addStretch(1)
        message_layout.addWidget(self.gallery_note, 0, Qt.AlignmentFlag.AlignCenter)
        message_layout.addWidget(self.open_dataset_button, 0, Qt.AlignmentFlag.AlignCenter)
        message_layout.addStretch(1)
        self.gallery_stack.addWidget(self.gallery)
        self.gallery_stack.addWidget(message)
        gallery_tab = QWidget()
        gallery_layout = QVBoxLayout(gallery_tab)
        gallery_layout.addLayout(gallery_top)
        gallery_layout.addWidget(self.gallery_stack, 1)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.summary, "Summary")
        self.tabs.addTab(self.slices_view, "Slices")
        self.tabs.addTab(gallery_tab, "Images")
        self.empty = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.body = QStackedWidget()
        self.body.addWidget(self.empty)
        self.body.addWidget(self.tabs)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.info)
        layout.addWidget(self.body, 1)

        self.runs.run_changed.connect(self.set_run)
        self.evaluate_button.clicked.connect(self.evaluate)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self._choose_export_folder)
        self.summary.threshold.changed.connect(self._threshold_changed)
        self.confusion.cell_clicked.connect(self.show_cell)
        self.view_combo.currentIndexChanged.connect(lambda _i: self._fill_gallery())
        self.review_button.clicked.connect(self._review)
        self.crossval_button.clicked.connect(lambda: self.check_train_split())
        self.open_dataset_button.clicked.connect(self._open_evaluated_dataset)
        self.gallery.grid.selectionModel().selectionChanged.connect(
            lambda *_: self._on_gallery_selection()
        )
        self.gallery.grid.selectionModel().currentChanged.connect(
            lambda *_: self._on_gallery_selection()
        )
        self.gallery.loader.ready.connect(self._on_thumbnail)
        self.gallery.detail.relabel.connect(self.label_selected)
        self.tabs.currentChanged.connect(lambda _i: self.selection_changed.emit())
        self.gallery.detail.show_in_browser.connect(self._reveal)
        self.gallery.detail.grad_cam_toggled.connect(lambda _on: self._on_gallery_selection())
        self._update_dataset_choices()
        self.set_run(self.runs.current())

    # -- inputs from the window -------------------------------------------------------------------
    def set_dataset(self, dataset: Dataset | None, store: LabelStore | None) -> None:
        self.dataset, self.store = dataset, store
        self.gallery.model.set_source(dataset, store)
        self.cams.forget()
        self._update_dataset_choices(prefer_open=True)
        self._match_rows()
        self._fill_gallery()

    def labels_changed(self) -> None:
        """Label edits or undo in the browser: repaint badges and the detail pane."""
        self.gallery.model.layoutChanged.emit()
        self._on_gallery_selection()

    def refresh_runs(self, select: str | None = None) -> None:
        self.runs.refresh(select)
        if select:
            self.set_run(select)

    # -- runs and evaluation ----------------------------------------------------------------------
    def set_run(self, run: str) -> None:
        self.run = run
        self.cams.forget()
        self._update_dataset_choices()
        # A damaged run (settings, an empty or cut-short checkpoint) says so at once instead
        # of failing later in the engine; what only loading finds, evaluating reports.
        info = cached_run_info(Path(run)) if run else None
        usable = bool(run) and not (info is not None and info.problem)
        self.evaluate_button.setEnabled(usable and self._request is None)
        self.crossval_button.setEnabled(usable and self._request is None)
        self.export_button.setEnabled(usable)
        if not run:
            self._show_empty(
                "No trained run yet.\nTrain one in the Train tab; it is evaluated on its test "
                "split when it finishes."
            )
            return
        if info is not None and info.problem:
            self._show_empty(f"This run cannot be used: {info.problem}")
            return
        self._show_empty("Loading the saved evaluation…")

        def fn(progress, cancel):
            return load_evaluation(RunFolder(Path(run)))

        self._load_token += 1
        token = self._load_token
        task = Task(fn, self)
        task.succeeded.connect(lambda result: self._on_loaded(token, result))
        task.failed.connect(
            lambda message: (
                token == self._load_token
                and self._show_empty(f"Cannot read this run's evaluation: {message}")
            )
        )
        task.finished.connect(task.deleteLater)
        task.start()

    def _on_loaded(self, token: int, result: SavedEvaluation | None) -> None:
        if token != self._load_token:  # another run was chosen meanwhile
            return
        if result is None:
            self._show_empty(
                "This run has no evaluation yet (it was stopped early or has no test split).\n"
                "Choose a dataset and split above and press Evaluate."
            )
            return
        self.show_evaluation(result)

    def evaluate(self) -> None:
        if not self.run:
            return
        data = self.data_combo.currentData()
        split = self.split_combo.currentData()
        self._start(
            "evaluate",
            f"Evaluating {Path(self.run).name} on the {split} split…",
            data=data or None,
            split=split,
        )

    def check_train_split(self, folds: int = 5) -> int | None:
        """Score the train split out-of-fold (k fresh heads on the run's backbone features),
        so the label-error list covers the images the run trained on as well."""
        if not self.run or self.evaluation is None:
            return None
        source = self.evaluation.get("dataset", {}).get("source")
        return self._start(
            "crossval",
            f"Scoring the train split of {Path(self.run).name} with {folds}-fold heads…",
            data=source,
            folds=folds,
        )

    def _start(self, kind: str, text: str, **args: Any) -> int:
        """One long job (evaluate or k-fold) at a time, with progress and Cancel."""
        self._request = self.engine.request(kind, run=self.run, **args)
        self._request_kind = kind
        self.evaluate_button.setEnabled(False)
        self.crossval_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.show()
        self.progress.setRange(0, 0)
        self.progress.setFormat("Starting the engine…")
        self.info.setText(text)
        return self._request

    def cancel(self) -> None:
        self.engine.cancel(upto=self._request)  # not an export asked for after it
        self.cancel_button.setEnabled(False)
        self.progress.setFormat("Cancelling…")

    def _on_progress(self, rid: int, done: int, total: int, message: str) -> None:
        if rid != self._request:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{message}: {done:,} / {total:,}")

    def _choose_export_folder(self) -> None:
        if not self.run:
            return
        folder = file_dialogs.choose_folder(self, "export", "Export the model into", self.run)
        if folder:
            self.export_model(folder)

    def export_model(self, folder: str) -> int:
        self._export_request = self.engine.request("export", run=self.run, out_dir=folder)
        self.export_button.setEnabled(False)
        self.info.setText(f"Exporting {Path(self.run).name} to TorchScript and ONNX…")
        return self._export_request

    def _on_exported(self, result: object, message: str | None = None) -> None:
        self._export_request = None
        self.export_button.setEnabled(True)
        if message is not None or not isinstance(result, dict):
            self.info.setText(f"<span style='color:#c0392b'>Export failed: {message}</span>")
            return
        if result.get("cancelled"):
            self.info.setText("Export cancelled; nothing was written.")
            return
        files = result["files"]
        names = [f"{Path(r['path']).name} (max difference {r['max_abs_diff']:.1e})" for r in files]
        text = f"Exported to {Path(files[0]['path']).parent}: " + ", ".join(names) + " · verified"
        for problem in result.get("problems", []):
            text += f"<br><span style='color:#c0392b'>Not exported: {problem}</span>"
        self.info.setText(text)
        self.exported.emit(files)

    def _on_finished(self, rid: int, result: object) -> None:
        if rid == self._export_request:
            self._on_exported(result)
            return
        if rid == self.cams.request_id:
            self.cams.handle_finished(result)
            return
        if rid != self._request:
            return
        self._request = None
        self._evaluation_ended()
        if isinstance(result, dict) and result.get("cancelled"):
            self.info.setText(f"{self._job_title()} cancelled; the previous results are unchanged.")
            return
        if self._request_kind == "crossval":
            self.crossval_done.emit(result)
        self.runs.refresh()
        self.set_run(self.run)  # reads the files the child wrote, in the background

    def _on_failed(self, rid: int, message: str) -> None:
        if rid == self._export_request:
            self._on_exported(None, message)
            return
        if rid == self.cams.request_id:
            self.cams.handle_failed(message)
            return
        if rid != self._request:
            return
        self._request = None
        self._evaluation_ended()
        self.info.setText(
            f"<span style='color:#c0392b'>{self._job_title()} failed: {message}</span>"
        )

    def _job_title(self) -> str:
        return "Evaluation" if self._request_kind == "evaluate" else "Checking the train split"

    def _evaluation_ended(self) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.evaluate_button.setEnabled(bool(self.run))
        self.crossval_button.setEnabled(bool(self.run))

    def _update_dataset_choices(self, prefer_open: bool = False) -> None:
        """The open dataset (chosen after a new one opens), the run's training dataset, and
        the dataset of the evaluation on screen when it is neither."""
        keep = None if prefer_open else self.data_combo.currentData()
        self.data_combo.blockSignals(True)
        self.data_combo.clear()
        if self.dataset is not None:
            self.data_combo.addItem(f"Open: {self.dataset.name}", self.dataset.report.source)
        trained = self._trained_on()
        if trained and (self.dataset is None or trained != self.dataset.report.source):
            self.data_combo.addItem(f"Trained on: {Path(trained).name}", trained)
        shown = (self.evaluation or {}).get("dataset", {}).get("source")
        if shown and self.data_combo.findData(shown) < 0:
            name = (self.evaluation or {}).get("dataset", {}).get("name", Path(shown).name)
            self.data_combo.addItem(f"Evaluated on: {name}", shown)
        if self.data_combo.count() == 0:
            self.data_combo.addItem("The run's training dataset", "")
        index = self.data_combo.findData(keep)
        self.data_combo.setCurrentIndex(max(index, 0))
        self.data_combo.blockSignals(False)

    def _trained_on(self) -> str:
        if not self.run:
            return ""
        try:
            return RunFolder(Path(self.run)).train_config().data
        except UserError:  # a damaged run: the picker and the summary say what is wrong
            return ""

    # -- showing ----------------------------------------------------------------------------------
    def _show_empty(self, text: str) -> None:
        self.evaluation = self.predictions = self.part = None
        self.part_rows = np.empty(0, dtype=np.int64)
        self.empty.setText(text)
        self.body.setCurrentWidget(self.empty)
        self.info.setText("")
        self.gallery.model.set_items(np.empty(0, dtype=np.int64), np.empty(0))

    def show_evaluation(self, loaded: SavedEvaluation) -> None:
        evaluation = loaded.evaluation
        self.evaluation, self.predictions, self.part = evaluation, loaded.predictions, loaded.part
        self.slice_index, self.suspects = loaded.slices, loaded.suspects
        split = evaluation["split"]
        self.split_combo.setCurrentIndex(max(self.split_combo.findData(split), 0))
        self.body.setCurrentWidget(self.tabs)
        data = evaluation.get("dataset", {})
        when = evaluation.get("evaluated_at", "").replace("T", " ")
        note = (
            f"{data.get('name', '?')} · {split} split · {len(self.part):,} images · "
            f"{evaluation.get('checkpoint', 'best.pt')} (epoch {evaluation.get('epoch', '?')}) · "
            f"{evaluation.get('device', '')} · evaluated {when}"
        )
        if evaluation.get("skipped_images"):
            note += f" · {evaluation['skipped_images']:,} unreadable images skipped"
        if evaluation.get("same_dataset_as_training") is False:
            note += " · a different dataset from the one the run trained on"
        self.info.setText(note)
        self.roc.show_curve(evaluation["roc"])
        self._match_rows()
        self._apply_threshold()
        self._update_dataset_choices()
        self.evaluated.emit(evaluation)

    def _match_rows(self) -> None:
        """Which open-dataset row each evaluated image is (-1 when another dataset is open)."""
        if self.part is None:
            self.part_rows = np.full(0, -1)
            return
        self.part_rows = self._rows_of_ids(self.part["image_id"].astype(str).to_numpy())

    def _threshold_changed(self, value: float) -> None:
        self.threshold = value
        self._apply_threshold()

    def _apply_threshold(self) -> None:
        if self.part is None or self.evaluation is None:
            return
        labels = label_vector(self.part)
        p = self.part["p_male"].to_numpy()
        m = metrics.binary_metrics(labels, p, self.threshold)
        self.summary.show_metrics(
            m,
            self.evaluation["roc"].get("auc"),
            self.evaluation.get("train_seconds"),
            self.threshold,
        )
        rows = metrics.slice_table(None, labels, p, self.threshold, self.slice_index)
        self.slices_view.show_rows(rows, len(set(self.slice_index.attributes)), m["accuracy"])
        self.gallery.delegate.threshold = self.threshold
        self.gallery.model.threshold = self.threshold
        self._fill_gallery()

    # -- galleries --------------------------------------------------------------------------------
    def show_cell(self, key: str) -> None:
        """A confusion-matrix cell was clicked: show exactly those images."""
        self.view_combo.setCurrentIndex(self.view_combo.findData(key))
        self.tabs.setCurrentIndex(2)
        self._fill_gallery()

    def view_items(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Positions in the evaluated split and their p(Male), in display order (not for the
        label-error view, which may reach beyond the split: see ``_fill_gallery``)."""
        assert self.part is not None
        labels = self.part["label"].to_numpy() == "Male"
        p = self.part["p_male"].to_numpy()
        predicted = p >= self.threshold
        masks = {
            "misclassified": labels != predicted,
            "male_as_female": labels & ~predicted,
            "female_as_male": ~labels & predicted,
            "male_correct": labels & predicted,
            "female_correct": ~labels & ~predicted,
        }
        chosen = np.flatnonzero(masks[key])
        confidence = np.abs(p[chosen] - 0.5)
        order = np.lexsort((chosen, -confidence))  # most confident first, stable
        return chosen[order], p[chosen[order]]

    def _fill_gallery(self) -> None:
        key = self.view_combo.currentData()
        self.review_button.setVisible(key == "label_errors")
        self.crossval_button.setVisible(key == "label_errors")
        if self.part is None or self.predictions is None:
            self.gallery.model.set_items(np.empty(0, dtype=np.int64), np.empty(0))
            self.gallery_count.setText("")
            return
        if key == "label_errors":
            ids = self.suspects["image_id"].astype(str).to_numpy()
            p = self.suspects["p_male"].to_numpy() if len(ids) else np.empty(0)
            rows = self._rows_of_ids(ids)
            if self.store is not None and len(rows):
                # Suspects already relabeled to what the model says drop out of the list (the
                # saved labels are as evaluated; the store has today's).
                known = rows >= 0
                agrees = np.zeros(len(rows), dtype=bool)
                agrees[known] = self.store.male[rows[known]] == (p[known] >= 0.5)
                ids, p, rows = ids[~agrees], p[~agrees], rows[~agrees]
            positions = np.arange(len(ids))
        else:
            positions, p = self.view_items(key)
            rows = self.part_rows[positions] if len(self.part_rows) else np.full(len(positions), -1)
        if not self._evaluated_dataset_is_open():
            name = (self.evaluation or {}).get("dataset", {}).get("name", "the evaluated dataset")
            self.gallery_note.setText(
                f"These {len(positions):,} images are in {name}, which is not the open dataset. "
                "Open it to see, review and relabel them."
            )
            self.gallery_stack.setCurrentIndex(1)
            self.gallery_count.setText(f"{len(positions):,} images")
            return
        keep = rows >= 0
        self.gallery_stack.setCurrentIndex(0)
        self.gallery.model.set_items(rows[keep], p[keep])
        self.gallery.grid.empty_text = "No images here at this threshold"
        text = f"{int(keep.sum()):,} images"
        if key == "label_errors":
            covered = (
                "val, test and train"
                if (self.suspects["split"] == "train").any()
                else "val and test"
            )
            text += f" the model calls the other class ({covered}, never trained on)"
        self.gallery_count.setToolTip(
            "Labels and numbers are as evaluated; Evaluate again after relabeling to update them."
        )
        self.gallery_count.setText(text)
        if len(self.gallery.model.rows):
            self.gallery.select_position(0)
        else:
            self.gallery.detail.clear("Nothing to show")

    def _evaluated_dataset_is_open(self) -> bool:
        if self.dataset is None or self.evaluation is None:
            return False
        return self.evaluation.get("dataset", {}).get("fingerprint") == self.dataset.fingerprint

    def _rows_of_ids(self, ids: np.ndarray) -> np.ndarray:
        if not self._evaluated_dataset_is_open():
            return np.full(len(ids), -1)
        assert self.dataset is not None
        return self.dataset.position(ids)

    def _open_evaluated_dataset(self) -> None:
        source = (self.evaluation or {}).get("dataset", {}).get("source")
        if source:
            self.open_requested.emit(source)

    def _review(self) -> None:
        rows = [int(r) for r in self.gallery.model.rows]
        if rows:
            title = (
                f"Reviewing {len(rows):,} suspected label errors of {Path(self.run).name}, the "
                "most suspicious first. Press M or F to relabel; Ctrl+Z undoes."
            )
            self.review_requested.emit(rows, title)

    def _reveal(self) -> None:
        rows = self.gallery.selected_rows()
        if rows:
            self.reveal_requested.emit(rows)

    # -- selection, relabeling, Grad-CAM ----------------------------------------------------------
    def selected_rows(self) -> list[int]:
        return self.gallery.selected_rows() if self.tabs.currentIndex() == 2 else []

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
        rows = self.gallery.selected_rows()
        if rows == [row] and not self.gallery.detail.grad_cam.isChecked():
            self._on_gallery_selection()

    def _on_gallery_selection(self) -> None:
        self.selection_changed.emit()
        detail = self.gallery.detail
        rows = self.gallery.selected_rows()
        if self.dataset is None or self.store is None or not rows:
            detail.clear("Select an image" if len(self.gallery.model.rows) else "Nothing to show")
            return
        if len(rows) > 1:
            detail.clear(f"{len(rows):,} images selected\nM / F relabels them all")
            detail.male_button.setEnabled(True)
            detail.female_button.setEnabled(True)
            detail.browser_button.setEnabled(True)
            return
        row = rows[0]
        index = self.gallery.model.model_index(row)
        p = float(self.gallery.model.p_male[index.row()]) if index.isValid() else 0.5
        image_id = str(self.dataset.table["image_id"].iat[row])
        split = str(self.dataset.table["split"].iat[row])
        pixmap = self.gallery.loader.pixmap(row)
        detail.show_item(
            image_id,
            split,
            int(self.store.male[row]),
            int(self.store.original[row]),
            p,
            self.threshold,
            pixmap,
        )
        if detail.grad_cam.isChecked():
            self._show_cam(image_id)
        else:
            detail.cam_note.setText("")

    def _show_cam(self, image_id: str) -> None:
        """The selected image's Grad-CAM over it, once the engine has computed it."""
        assert self.dataset is not None
        detail = self.gallery.detail
        key = (self.run, self.dataset.fingerprint, image_id)
        cached = self.cams.get(key, self.dataset.report.source)
        if cached is None:
            detail.cam_note.setText("Computing Grad-CAM…")
            return
        image, heat = cached
        detail.set_picture(QPixmap.fromImage(overlay(image, heat)))
        detail.cam_note.setText(
            "Red: the regions that drove this prediction most."
            if heat.max() > 0
            else "No region stands out: at this layer nothing pushes the model toward its "
            "answer more than elsewhere."
        )

    def shutdown(self) -> None:
        self.engine.shutdown()
        self.gallery.shutdown()
