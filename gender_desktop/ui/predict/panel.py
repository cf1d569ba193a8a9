"""The Predict panel: drop photos or folders, see Male/Female with the probability per image
(or per face), with the dataset's label where the file belongs to the open dataset, Grad-CAM
overlays on demand, and a CSV export.

The model runs in the engine child (``ui/engine.py``): the GUI thread never decodes a full
image, never imports torch and never waits on a file. The panel talks to the child through a
small scheduler that keeps exactly one request in flight: a model load first, then predictions
in the order they were asked for, then Grad-CAM maps for the selected and visible results when
that is on. One request at a time keeps Cancel exact (it stops the prediction it means, never
a queued one) and keeps Grad-CAM from slowing a big folder.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QMimeData,
    QModelIndex,
    QPoint,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
    QResizeEvent,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.durations import duration_text
from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.ui import file_dialogs, heatmap
from gender_desktop.ui.engine import EngineClient
from gender_desktop.ui.predict.delegate import ERROR_COLOR, ResultDelegate
from gender_desktop.ui.predict.files import (
    device_label,
    escape,
    first_line,
    local_paths,
    plural,
    save_pasted_image,
    web_addresses,
    write_csv,
)
from gender_desktop.ui.predict.model import (
    HeatState,
    Order,
    ResultsModel,
    Role,
    Show,
    to_qimage,
)
from gender_desktop.ui.predict.view import ResultsView
from gender_desktop.ui.predict.widgets import DetailPane, DropOverlay, DropZone
from gender_desktop.ui.runs import RunPicker
from gender_desktop.ui.settings import app_settings
from gender_desktop.ui.workers import Task

IMAGE_FILTER = (
    "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.gif *.JPG *.JPEG *.PNG);;All files (*)"
)
RED = ERROR_COLOR.name()


@dataclass
class _Job:
    """One engine request the panel made (or will make)."""

    kind: str  # "load", "predict" or "grad_cam"
    args: dict[str, Any]
    rid: int = 0
    started: float = 0.0
    position: int = -1  # grad_cam: the results row the map is for
    generation: int = 0  # grad_cam: results/model generation it belongs to
    discard: bool = False  # predict: its rows were cleared away while it ran
    done_files: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict(male=0, female=0, wrong=0))


class PredictPanel(QWidget):
    """Predictions for dropped, opened or pasted images with a trained run's model."""

    model_loaded = Signal(dict)  # the engine's description of the loaded model
    model_failed = Signal(str)
    job_finished = Signal(dict)  # a prediction's result: files, rows, errors, seconds, cancelled
    job_failed = Signal(str)
    exported = Signal(str)  # the CSV path
    heat_ready = Signal(int)  # a results row got its Grad-CAM overlay
    busy_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.engine = EngineClient(
            "predict",
            self,
            release_note="Model released after {idle} idle; it reloads on the next prediction",
        )
        self.engine.progressed.connect(self._on_progress)
        self.engine.rows.connect(self._on_rows)
        self.engine.finished.connect(self._on_finished)
        self.engine.failed.connect(self._on_failed)
        self.dataset_source: str | None = None
        self.dataset_name = ""
        self.device_text = ""
        self._active: _Job | None = None
        self._queue: deque[_Job] = deque()
        self._want_load: str | None = None
        self._loaded_run: str | None = None
        self._loading_run: str | None = None
        self._load_error = ""
        self._generation = 0
        self._tasks: set[Task] = set()
        self._closing = False
        self._was_busy = False
        self.settings = app_settings()
        self._build()
        self._kick_timer = QTimer(self, singleShot=True, interval=40)
        self._kick_timer.timeout.connect(self._next)
        self.runs.run_changed.connect(self._on_run_changed)
        self._on_run_changed(self.runs.current())

    # -- construction -----------------------------------------------------------------------------
    def _build(self) -> None:
        std = self.style().standardIcon
        sp = QStyle.StandardPixmap
        self.runs = RunPicker()
        self.model_label = QLabel()
        # Long texts (a load error naming a path) wrap in the width the picker leaves, instead
        # of widening the window; the tooltip has them whole too.
        self.model_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(self.runs, 3)
        top.addSpacing(12)
        top.addWidget(self.model_label, 2)

        self.open_files_button = QPushButton(std(sp.SP_FileIcon), "Open Files…")
        self.open_files_button.setToolTip("Predict image files")
        self.open_folder_button = QPushButton(std(sp.SP_DirOpenIcon), "Open Folder…")
        self.open_folder_button.setToolTip("Predict every image in a folder and its subfolders")
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip(
            "Predict the image, files or folders on the clipboard (Ctrl+V); a pasted image is "
            "saved as a PNG in the app's cache folder first"
        )
        self.crop_faces = QCheckBox("Crop faces")
        self.crop_faces.setToolTip(
            "Detect faces with OpenCV and predict each one, for photos that are not face crops "
            "(portraits with background, group photos). Leave off for aligned crops like CelebA: "
            "the model was trained on those as they are."
        )
        self.crop_faces.setChecked(
            self.settings.value("predict/cropFaces", False, type=bool)  # type: ignore[arg-type]
        )
        self.crop_faces.toggled.connect(lambda on: self.settings.setValue("predict/cropFaces", on))
        self.grad_cam = QCheckBox("Grad-CAM")
        self.grad_cam.setToolTip(
            "Overlay a heat map of the regions that drove each prediction (Grad-CAM), computed "
            "for the selected and the visible results, one at a time"
        )
        self.show_combo = QComboBox()
        self.show_combo.setToolTip("Which results to show")
        for show in Show:
            self.show_combo.addItem("", int(show))
        self.order_combo = QComboBox()
        self.order_combo.setToolTip("The order of the results")
        self.order_combo.addItem("Input order", int(Order.INPUT))
        self.order_combo.addItem("Least confident first", int(Order.LEAST_CONFIDENT))
        self.order_combo.addItem("Most confident first", int(Order.MOST_CONFIDENT))
        self.clear_button = QPushButton(std(sp.SP_DialogResetButton), "Clear")
        self.clear_button.setToolTip("Remove every result")
        self.export_button = QPushButton(std(sp.SP_DialogSaveButton), "Export CSV…")
        self.export_button.setToolTip(
            "Save the results as CSV: path, p_male, prediction, error (and face, box, dataset "
            "id, split, label and wrong where present)"
        )
        tools = QHBoxLayout()
        for widget in (self.open_files_button, self.open_folder_button, self.paste_button):
            tools.addWidget(widget)
        tools.addWidget(_separator())
        tools.addWidget(self.crop_faces)
        tools.addWidget(self.grad_cam)
        tools.addStretch(1)
        tools.addWidget(QLabel("Show:"))
        tools.addWidget(self.show_combo)
        tools.addWidget(self.order_combo)
        tools.addWidget(_separator())
        tools.addWidget(self.clear_button)
        tools.addWidget(self.export_button)

        self.results = ResultsModel(self)
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

        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.counts = QLabel()
        self.progress = QProgressBar(textVisible=True)
        self.progress.setMinimumWidth(320)
        self.progress.hide()
        self.cancel_button = QPushButton(std(sp.SP_BrowserStop), "Cancel")
        self.cancel_button.setToolTip("Stop predicting (Esc); the results so far stay")
        self.cancel_button.hide()
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.counts)
        bottom.addWidget(self.progress)
        bottom.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 6)
        layout.addLayout(top)
        layout.addLayout(tools)
        layout.addWidget(self.stack, 1)
        layout.addLayout(bottom)

        self.open_files_button.clicked.connect(self.choose_files)
        self.open_folder_button.clicked.connect(self.choose_folder)
        self.paste_button.clicked.connect(self.paste)
        self.drop_zone.open_files.connect(self.choose_files)
        self.drop_zone.open_folder.connect(self.choose_folder)
        self.drop_zone.paste.connect(self.paste)
        self.clear_button.clicked.connect(self.clear)
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.cancel_button.clicked.connect(self.cancel)
        self.grad_cam.toggled.connect(self._on_grad_cam_toggled)
        self.show_combo.currentIndexChanged.connect(self._on_view_changed)
        self.order_combo.currentIndexChanged.connect(self._on_view_changed)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.verticalScrollBar().valueChanged.connect(self._kick)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.doubleClicked.connect(self._open_index)
        self.results.dataChanged.connect(self._on_data_changed)
        self.results.rowsInserted.connect(self._kick)
        self.results.rowsInserted.connect(self._update_counts)
        self.results.modelReset.connect(self._update_counts)
        paste = QShortcut(QKeySequence.StandardKey.Paste, self, self.paste)
        paste.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.cancel)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._update_counts()
        self._update_controls()

    # -- public API -------------------------------------------------------------------------------
    def set_dataset(self, dataset: Any) -> None:
        """The dataset open in the browser: predictions of its own files show their label.
        The engine reopens it from ``report.source`` (the folder, annotation file or zip the
        user picked, which ``open_dataset`` accepts as it is)."""
        self.dataset_source = str(dataset.report.source) if dataset is not None else None
        self.dataset_name = dataset.name if dataset is not None else ""
        self._update_hint()

    def set_device_text(self, text: str) -> None:
        self.device_text = text
        self._update_hint()

    def refresh_runs(self, select: str | None = None) -> None:
        """Reload the run list (a training finished); ``select`` picks a run folder."""
        self.runs.refresh(select)

    def predict_paths(self, paths: list[str]) -> bool:
        """Predict files and folders (the child expands folders). False with a message when
        there is no model to predict with."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return False
        run = self.runs.current()
        if not run:
            self._no_run()
            return False
        self._ensure_model()
        job = _Job(
            "predict",
            {
                "run": run,
                "paths": paths,
                "crop_faces": self.crop_faces.isChecked(),
                "dataset": self.dataset_source,
            },
        )
        self._queue.append(job)
        self.stack.setCurrentWidget(self.splitter)
        self._next()
        self._update_controls()
        return True

    def cancel(self) -> None:
        """Stop the running prediction between two batches and drop the queued ones."""
        had = bool(self._queue)
        self._queue.clear()
        if self._active is not None and self._active.kind == "predict":
            self.engine.cancel()
            self.progress.setFormat("Cancelling…")
        elif had:
            self._message("Cancelled")
        self._update_controls()

    def clear(self) -> None:
        """Remove every result (a running prediction is cancelled and its late rows dropped)."""
        self.cancel()
        if self._active is not None and self._active.kind == "predict":
            self._active.discard = True
        self._generation += 1
        self.results.clear()
        self.detail.show_row(None)
        self.summary.clear()
        self.stack.setCurrentWidget(self.drop_zone)
        self._update_controls()

    def is_busy(self) -> bool:
        """Predicting (or about to): what Cancel stops."""
        predicting = self._active is not None and self._active.kind == "predict"
        return predicting or bool(self._queue)

    def shutdown(self) -> None:
        """End the engine child and wait for the small file tasks (closing the window)."""
        self._closing = True
        self._kick_timer.stop()
        self._queue.clear()
        self.engine.shutdown()
        self._active = None
        for task in list(self._tasks):
            task.cancel()
            task.wait()
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

    def paste(self) -> None:
        """Ctrl+V: file paths or file URLs on the clipboard, or an image (saved as a PNG)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not self._take_mime(mime):
            self._message(
                "Nothing to predict on the clipboard: copy an image, image files or a folder",
                error=True,
            )

    def _take_mime(self, mime: QMimeData) -> bool:
        """Predict what ``mime`` holds (paste and drop share this). False when it holds nothing
        usable; web addresses get their own message."""
        found = local_paths(mime)
        if found:
            return self.predict_paths(found) or True
        if mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self._save_and_predict(image)
                return True
        web = web_addresses(mime)
        if web:
            self._message(
                "Web addresses are not downloaded: save the image, then drop or paste the file "
                f"({web[0]})",
                error=True,
            )
            return True
        return False

    def _save_and_predict(self, image: QImage) -> None:
        if not self.runs.current():
            self._no_run()
            return

        def fn(progress, cancel):
            return save_pasted_image(image)

        self._start_task(
            Task(fn, self),
            lambda path: self.predict_paths([path]),
            lambda message: self._message(f"Cannot save the pasted image: {message}", error=True),
        )

    def export_csv(self, path: str | None = None) -> Task | None:
        """Save every result (whatever the filter shows) as CSV, in the background."""
        rows = self.results.rows()
        if not rows:
            self._message("Nothing to export yet", error=True)
            return None
        if path is None:
            name = f"predictions-{Path(self.runs.current()).name}.csv"
            path, _ = file_dialogs.save_file(
                self, "export", "Export predictions", name, "CSV (*.csv)"
            )
            if not path:
                return None
        target = str(path)

        def fn(progress, cancel):
            return write_csv(rows, target)

        def done(out: str) -> None:
            self._message(f"Saved {plural(len(rows), 'row')} to {out}")
            self.exported.emit(out)

        return self._start_task(
            Task(fn, self),
            done,
            lambda message: self._message(f"Export failed: {message}", error=True),
        )

    def _start_task(self, task: Task, on_success, on_failed) -> Task:
        self._tasks.add(task)
        task.succeeded.connect(on_success)
        task.failed.connect(on_failed)
        task.finished.connect(lambda: self._task_done(task))
        task.start()
        return task

    def _task_done(self, task: Task) -> None:
        self._tasks.discard(task)
        task.deleteLater()

    # -- the model --------------------------------------------------------------------------------
    def _on_run_changed(self, run: str) -> None:
        self._loaded_run = None
        self._load_error = ""
        self._generation += 1  # Grad-CAM maps of another model are not this model's evidence
        self.results.clear_heat()
        if not run:
            self._want_load = None
            self.model_label.setText("No model")
            self.model_label.setToolTip("")
        elif self.isVisible():
            self._ensure_model()
        else:
            self.model_label.setText("The model loads when this tab opens")
        self._update_hint()
        self._refresh_detail()
        self._kick()

    def _ensure_model(self) -> None:
        run = self.runs.current()
        if not run or run == self._loaded_run or self._closing:
            return
        # Switching back to the run that is loading right now cancels a load asked for since.
        self._want_load = None if run == self._loading_run else run
        self.model_label.setText("Loading model…")
        self.model_label.setToolTip(run)
        self._next()

    def _model_text(self, info: dict[str, Any]) -> str:
        epoch = info.get("epoch")
        parts = [
            f"Model: {info.get('backbone', '?')}",
            f"{info.get('input_size', '?')} px",
            f"epoch {epoch}" if epoch is not None else str(info.get("checkpoint", "")),
            device_label(str(info.get("device", ""))),
        ]
        return " · ".join(p for p in parts if p)

    # -- the scheduler ----------------------------------------------------------------------------
    def _kick(self, *_args: object) -> None:
        """Look for the next request soon (coalesces scrolls and batch arrivals)."""
        if not self._closing:
            self._kick_timer.start()

    def _next(self) -> None:
        if self._active is not None or self._closing:
            return
        job: _Job | None = None
        if self._want_load:
            job = _Job("load", {"run": self._want_load, "device": "auto"})
            self._loading_run, self._want_load = self._want_load, None
        elif self._queue:
            job = self._queue.popleft()
        else:
            job = self._next_heat_job()
        if job is None:
            self._update_controls()
            return
        job.rid = self.engine.request(job.kind, **job.args)
        job.started = time.monotonic()
        self._active = job
        if job.kind == "predict":
            self._update_hint()  # an earlier error message has had its time
            self.progress.setRange(0, 0)
            starting = "Starting the engine…" if not self._loaded_run else "Reading files…"
            self.progress.setFormat(starting)
            self.summary.clear()
        self._update_controls()

    def _on_progress(self, rid: int, done: int, total: int, message: str) -> None:
        job = self._active
        if job is None or job.rid != rid or job.kind != "predict":
            return
        elapsed = max(time.monotonic() - job.started, 1e-6)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        rate = done / elapsed
        queued = f" · {plural(len(self._queue), 'more job')} queued" if self._queue else ""
        self.progress.setFormat(f"{done:,} / {total:,} images · {rate:,.0f} img/s{queued}")

    def _on_rows(self, rid: int, rows: list[dict[str, Any]]) -> None:
        job = self._active
        if job is None or job.rid != rid or job.discard or self._closing:
            return
        for row in self.results.append(rows):
            job.done_files += row.face is None or row.face == 0  # one per file, faces or not
            if row.p_male is not None:
                job.counts["male" if row.p_male >= 0.5 else "female"] += 1
                job.counts["wrong"] += int(row.wrong)
        if not self.view.currentIndex().isValid() and self.results.rowCount():
            self.view.selectionModel().setCurrentIndex(
                self.results.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )

    def _take_active(self, rid: int) -> _Job | None:
        job = self._active
        if job is None or job.rid != rid:
            return None
        self._active = None
        return job

    def _on_finished(self, rid: int, result: object) -> None:
        job = self._take_active(rid)
        if job is None:
            return
        if job.kind == "load":
            self._loading_run = None
            info = result if isinstance(result, dict) else {}
            if job.args["run"] == self.runs.current():
                self._loaded_run = job.args["run"]
                self.model_label.setText(self._model_text(info))
                self.model_label.setToolTip(
                    f"{info.get('run', job.args['run'])}\nweights: {info.get('checkpoint', '?')}"
                )
                self.model_loaded.emit(info)
        elif job.kind == "predict":
            summary = result if isinstance(result, dict) else {}
            if not job.discard:
                self._summarise(job, summary)
            self.job_finished.emit(summary)
        elif job.kind == "grad_cam":
            self._heat_done(job, result)
        self._after_job()

    def _on_failed(self, rid: int, message: str) -> None:
        job = self._take_active(rid)
        if job is None:
            return
        if job.kind == "load":
            self._loading_run = None
            if job.args["run"] == self.runs.current():
                self._load_error = message
                self.model_label.setText(
                    f"<span style='color:{RED}'>Cannot load this run: "
                    f"{escape(first_line(message))}</span>"
                )
                self.model_label.setToolTip(message)
                self.model_failed.emit(message)
        elif job.kind == "predict":
            if not job.discard:
                self._message(f"Prediction failed: {message}", error=True)
            self.job_failed.emit(message)
        elif job.kind == "grad_cam" and job.generation == self._generation:
            self.results.set_heat_state(job.position, HeatState.FAILED, message)
        self._after_job()

    def _after_job(self) -> None:
        if not self.is_busy() and self.results.total() == 0:
            self.stack.setCurrentWidget(self.drop_zone)  # the message shows there too
        self._update_controls()
        if not self._closing:
            self._next()

    def _summarise(self, job: _Job, result: dict[str, Any]) -> None:
        """The line under the results: how many, how fast, how many failed or disagree."""
        files = int(result.get("files", 0))
        rows = int(result.get("rows", 0))
        errors = int(result.get("errors", 0))
        seconds = float(result.get("seconds", time.monotonic() - job.started))
        if result.get("cancelled"):
            head = f"Cancelled after {job.done_files:,} of {plural(files, 'image')}"
        elif files == 0:
            self._message(
                "No images found: folders are searched for .jpg, .jpeg, .png, .bmp, .webp, "
                ".tif, .tiff and .gif files",
                error=True,
            )
            return
        elif job.args.get("crop_faces"):
            head = f"{plural(files, 'photo')} · {plural(rows - errors, 'face')} in {duration_text(seconds)}"
        else:
            head = f"{plural(files, 'image')} in {duration_text(seconds)}"
        parts = [head]
        counts = job.counts
        if counts["male"] or counts["female"]:
            parts.append(f"{counts['male']:,} male · {counts['female']:,} female")
        if errors:
            parts.append(f"<span style='color:{RED}'>{plural(errors, 'error')}</span>")
        if counts["wrong"]:
            parts.append(
                f"<span style='color:{RED}'>{counts['wrong']:,} disagree with the dataset "
                "label</span>"
            )
        self.summary.setText(" · ".join(parts))
        self.summary.setToolTip("")

    def _no_run(self) -> None:
        self._message(
            "No trained run to predict with: train one in the Train tab, or pick a run folder "
            "with Browse…",
            error=True,
        )

    def _message(self, text: str, error: bool = False) -> None:
        """A line for the user: under the results, or in the drop zone while that shows."""
        empty = self.results.total() == 0 and not self.is_busy()
        if error and (empty or self.stack.currentWidget() is self.drop_zone):
            line = first_line(text)
            self.drop_zone.set_hint(line if len(line) <= 240 else line[:239] + "…", warning=True)
            self.drop_zone.hint.setToolTip(text)
            self.summary.clear()
            return
        escaped = escape(first_line(text))  # the whole text is in the tooltip
        self.summary.setText(f"<span style='color:{RED}'>{escaped}</span>" if error else escaped)
        self.summary.setToolTip(text)

    # -- Grad-CAM ---------------------------------------------------------------------------------
    def _on_grad_cam_toggled(self, on: bool) -> None:
        self.delegate.show_heat = on
        self.view.viewport().update()
        self._refresh_detail()
        self._kick()

    def _visible_positions(self) -> Iterator[int]:
        """Results rows on screen, top-left first (sampled per grid cell: O(visible))."""
        viewport = self.view.viewport().rect()
        grid = self.view.gridSize()
        seen: set[int] = set()
        for y in range(grid.height() // 2, viewport.height() + grid.height(), grid.height() // 2):
            for x in range(grid.width() // 2, viewport.width(), grid.width() // 2):
                index = self.view.indexAt(QPoint(x, min(y, viewport.height() - 1)))
                if index.isValid():
                    position = self.results.position(index)
                    if position not in seen:
                        seen.add(position)
                        yield position

    def _next_heat_job(self) -> _Job | None:
        run = self.runs.current()
        if not self.grad_cam.isChecked() or not run or run != self._loaded_run:
            return None
        current = self.view.currentIndex()
        candidates: list[int] = []
        if current.isValid():
            candidates.append(self.results.position(current))
        if self.isVisible():
            candidates.extend(self._visible_positions())
        for position in candidates:
            if position < 0 or position >= self.results.total():
                continue
            row = self.results.row_at(position)
            if row.p_male is None or self.results.heat_state(position) != HeatState.NONE:
                continue
            self.results.set_heat_state(position, HeatState.PENDING)
            return _Job(
                "grad_cam",
                {"run": run, "path": row.path, "face": row.face},
                position=position,
                generation=self._generation,
            )
        return None

    def _heat_done(self, job: _Job, result: object) -> None:
        if job.generation != self._generation or not isinstance(result, dict):
            return
        try:
            blended = heatmap.overlay(np.asarray(result["image"]), np.asarray(result["heat"]))
        except (KeyError, ValueError, IndexError) as exc:
            self.results.set_heat_state(job.position, HeatState.FAILED, str(exc))
            return
        self.results.set_heat(job.position, to_qimage(blended))
        self.heat_ready.emit(job.position)

    # -- view events ------------------------------------------------------------------------------
    def _on_view_changed(self, *_args: object) -> None:
        """A new filter or order: the selected result stays selected (and in sight) if shown."""
        current = self.results.position(self.view.currentIndex())
        self.results.set_view(
            Show(self.show_combo.currentData()), Order(self.order_combo.currentData())
        )
        index = self.results.index_of(current) if current >= 0 else QModelIndex()
        if index.isValid():
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)
        else:
            self._refresh_detail()
        self._kick()

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._refresh_detail()
        self._kick()

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, *_args) -> None:
        current = self.view.currentIndex()
        if current.isValid():
            position = self.results.position(current)
            if top_left.row() <= position <= bottom_right.row():
                self._refresh_detail()

    def _refresh_detail(self) -> None:
        current = self.view.currentIndex()
        if not current.isValid():
            self.detail.show_row(None)
            return
        position = self.results.position(current)
        self.detail.show_row(
            self.results.row_at(position),
            current.data(Role.PREVIEW),
            current.data(Role.HEAT),
            self.results.heat_state(position),
            self.results.heat_message(position),
            self.grad_cam.isChecked(),
        )

    def _selected_rows(self) -> list[PredictionRow]:
        indexes = sorted(self.view.selectionModel().selectedIndexes(), key=lambda i: i.row())
        return [self.results.row_at(self.results.position(i)) for i in indexes]

    def _context_menu(self, point: QPoint) -> None:
        rows = self._selected_rows()
        if not rows:
            return
        menu = QMenu(self)
        first = rows[0]
        open_action = QAction("Open Image", menu)
        open_action.triggered.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(first.path))
        )
        folder_action = QAction("Show Folder", menu)
        folder_action.triggered.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(first.path).parent)))
        )
        copy_action = QAction("Copy Path" if len(rows) == 1 else f"Copy {len(rows)} Paths", menu)
        copy_action.triggered.connect(
            lambda: QGuiApplication.clipboard().setText("\n".join(r.path for r in rows))
        )
        menu.addActions([open_action, folder_action, copy_action])
        menu.exec(self.view.viewport().mapToGlobal(point))

    def _open_index(self, index: QModelIndex) -> None:
        row = index.data(Role.ROW)
        if row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(row.path))

    # -- state shown ------------------------------------------------------------------------------
    def _update_counts(self, *_args: object) -> None:
        c = self.results.counts
        labels = {
            Show.ALL: f"All ({c.rows:,})",
            Show.MALE: f"Male ({c.male:,})",
            Show.FEMALE: f"Female ({c.female:,})",
            Show.ERRORS: f"Errors ({c.errors:,})",
            Show.WRONG: f"Wrong vs label ({c.wrong:,})",
            Show.UNCERTAIN: f"Uncertain, 40–60 % ({c.uncertain:,})",
        }
        for i in range(self.show_combo.count()):
            self.show_combo.setItemText(i, labels[Show(self.show_combo.itemData(i))])
        parts = [plural(c.rows, "result")] if c.rows else []
        if c.errors:
            parts.append(plural(c.errors, "error"))
        if c.labelled:
            parts.append(f"{c.wrong:,} of {c.labelled:,} labelled wrong")
        self.counts.setText(" · ".join(parts))
        self._update_controls()

    def _update_controls(self) -> None:
        busy = self.is_busy()
        has_rows = self.results.total() > 0
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.counts.setVisible(not busy and has_rows)
        self.export_button.setEnabled(has_rows)
        self.clear_button.setEnabled(has_rows or busy)
        self.show_combo.setEnabled(has_rows)
        self.order_combo.setEnabled(has_rows)
        if busy != self._was_busy:
            self._was_busy = busy
            self.busy_changed.emit(busy)

    def _update_hint(self) -> None:
        run = self.runs.current()
        if not run:
            self.drop_zone.set_hint(
                "No trained run yet: train one in the Train tab, or pick a run folder with "
                "Browse… above.",
                warning=True,
            )
            return
        text = f"Predictions use {Path(run).name}"
        if self.device_text:
            text += f" on {self.device_text}"
        text += "."
        if self.dataset_name:
            text += f" Files of the open dataset ({self.dataset_name}) also show their label."
        self.drop_zone.set_hint(text)

    # -- Qt events --------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._ensure_model()
        self._kick()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.overlay.setGeometry(self.stack.rect())
        self._kick()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.view.viewport().update()
        super().changeEvent(event)

    def _accepts(self, mime: QMimeData) -> bool:
        return any(url.isLocalFile() for url in mime.urls()) or mime.hasImage()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
            self._show_drop_target(True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._show_drop_target(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Accepted here, so a drop on this tab predicts instead of reaching the main window
        (which would open the files as a dataset)."""
        self._show_drop_target(False)
        mime = event.mimeData()
        if self._accepts(mime):
            event.acceptProposedAction()
            self._take_mime(mime)

    def _show_drop_target(self, on: bool) -> None:
        if self.stack.currentWidget() is self.drop_zone:
            self.drop_zone.set_highlight(on)
            self.overlay.hide()
        elif on:
            self.overlay.setGeometry(self.stack.rect())
            self.overlay.raise_()
            self.overlay.show()
        else:
            self.overlay.hide()


def _separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line
