"""The Predict tab's state and scheduling, without widgets: which run is loaded, the queue of
files to predict, Grad-CAM maps on demand, the results, and the settings (framing and
test-time augmentation) each result was made with.

The panel builds widgets and renders this object's signals; tests drive it with a real engine
child and no window. Requests go to the engine child through three
:class:`~gender_desktop.ui.tasks.RequestSlot`\\ s (model load, prediction, Grad-CAM) of one
client, and at most one of them is in flight: a model load first, then predictions in the
order they were asked for, then Grad-CAM maps for the results the panel says are in sight.
One request at a time keeps Cancel exact (the process layer cancels by watermark: it stops the
prediction it means, never a queued one) and keeps Grad-CAM from slowing a big folder. A slot
that is replaced or dropped (another run chosen, the results cleared) silences its late answers,
so no token checks are written here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from gender_desktop.data.dataset import Dataset
from gender_desktop.data.labels import LabelStore
from gender_desktop.ml.config import DEFAULT_SETTING, FRAMING_MODES, TTA_MODES, choice
from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.ml.prediction_rows import (
    NO_IMAGES,
    JobTally,
    files_of,
    job_summary,
    plural,
    setting_text,
    stale_positions,
)
from gender_desktop.ui import heatmap
from gender_desktop.ui.engine import EngineClient
from gender_desktop.ui.predict.files import device_label, save_pasted_image, write_csv
from gender_desktop.ui.predict.model import HeatState, ResultsModel, to_qimage
from gender_desktop.ui.tasks import RequestSlot, TaskSlot

AUTO_REPREDICT_FILES = 500  # more files than this: a changed setting asks before re-predicting
NO_RUN = (
    "No trained run to predict with: train one in the Train tab, or pick a run folder with Browse…"
)


@dataclass
class PredictJob:
    """Files and folders to predict; the run and the settings are taken when it is sent, so a
    queued job uses what the panel shows at that moment."""

    paths: list[str]
    note: str = ""  # what the progress bar says while it starts ("" : reading files)
    setting: tuple[str, str] = ("off", "none")  # (framing, tta) it was sent with
    started: float = 0.0
    tally: JobTally = field(default_factory=JobTally)
    replaces: list[PredictionRow] = field(default_factory=list)  # old results its rows replace


class PredictSession(QObject):
    """Model loading, the prediction queue, Grad-CAM scheduling and result bookkeeping."""

    model_changed = Signal(str, str, bool)  # text, tooltip, is an error
    model_loaded = Signal(dict)  # the engine's description of the loaded model
    model_failed = Signal(str)
    progressed = Signal(int, int, str)  # done, total (0: not known yet), text
    rows_added = Signal(list)  # PredictionRows of one batch
    summary = Signal(list)  # (text, alarming) parts of the line after a prediction
    message = Signal(str, bool)  # a line for the user, is an error
    finished = Signal(dict)  # a prediction's result: files, rows, errors, seconds, cancelled
    failed = Signal(str)
    heat_ready = Signal(int)  # a results position got its Grad-CAM overlay
    exported = Signal(str)  # the CSV path
    stale_changed = Signal(int)  # files whose results used other settings than the panel's
    busy_changed = Signal(bool)  # predicting or about to (what Cancel stops)

    def __init__(self, engine: EngineClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.results = ResultsModel(self)
        self.loads = RequestSlot(engine, self)
        self.predictions = RequestSlot(engine, self)
        self.cams = RequestSlot(engine, self)
        self.exports = TaskSlot(self)
        self.pastes = TaskSlot(self)
        self.run = ""
        self.loaded_run: str | None = None
        self.load_error = ""
        self.dataset: Dataset | None = None
        self.store: LabelStore | None = None
        self.framing, self.tta = DEFAULT_SETTING
        self.grad_cam = False
        self.active = False  # the tab is shown: load the model now rather than on first use
        self.candidates: Callable[[], Iterable[int]] = lambda: ()  # Grad-CAM: positions in sight
        self._queue: deque[PredictJob] = deque()
        self._job: PredictJob | None = None
        self._want_load: str | None = None
        self._heat_position = -1
        self._repredict_when_idle = False
        self._closing = False
        self._was_busy = False
        self._kick_timer = QTimer(self, singleShot=True, interval=40)
        self._kick_timer.timeout.connect(self._next)
        self.loads.succeeded.connect(self._on_loaded)
        self.loads.failed.connect(self._on_load_failed)
        self.predictions.progressed.connect(self._on_progress)
        self.predictions.rows.connect(self._on_rows)
        self.predictions.succeeded.connect(self._on_predicted)
        self.predictions.failed.connect(self._on_predict_failed)
        self.cams.succeeded.connect(self._on_heat)
        self.cams.failed.connect(self._on_heat_failed)
        self.pastes.succeeded.connect(self._predict_saved)
        self.pastes.failed.connect(self._paste_failed)
        self.exports.succeeded.connect(self._exported)
        self.exports.failed.connect(self._export_failed)
        self.results.rowsInserted.connect(self.kick)

    # -- state the panel sets -----------------------------------------------------------------
    @property
    def dataset_source(self) -> str | None:
        """What the engine reopens the dataset from (the folder, annotation file or zip)."""
        return str(self.dataset.report.source) if self.dataset is not None else None

    def set_dataset(self, dataset: Dataset | None, store: LabelStore | None = None) -> None:
        """The dataset open in the browser: predictions of its files show its label. Rows that
        were matched against another dataset lose that label (it is not the open one's)."""
        before = self.dataset_source
        self.dataset, self.store = dataset, store
        if self.dataset_source != before:
            self.results.set_labels(dict.fromkeys(self.results.dataset_ids()))
        else:
            self.refresh_labels()

    def set_run(self, run: str) -> None:
        """Another run was picked: its model replaces the loaded one; overlays of the old
        model are not this model's evidence and go."""
        self.run = run or ""
        self.loaded_run, self.load_error = None, ""
        self.loads.drop()
        self._drop_heat()
        self.results.clear_heat()
        if not self.run:
            self._want_load = None
            self.model_changed.emit("No model", "", False)
        elif self.active:
            self.ensure_model()
        else:
            self.model_changed.emit("The model loads when this tab opens", self.run, False)
        self.kick()

    def set_active(self, active: bool) -> None:
        self.active = active
        if active:
            self.ensure_model()
            self.kick()

    def set_grad_cam(self, on: bool) -> None:
        self.grad_cam = on
        self.kick()

    @property
    def setting(self) -> tuple[str, str]:
        """(framing, tta): what a result made now is made with."""
        return (self.framing, self.tta)

    def set_framing(self, framing: str) -> None:
        """How photos become the model's picture (ml/config.FRAMING_MODES)."""
        self.set_setting(framing, self.tta)

    def set_tta(self, tta: str) -> None:
        """Test-time augmentation (ml/config.TTA_MODES)."""
        self.set_setting(self.framing, tta)

    def set_setting(self, framing: str, tta: str) -> None:
        """Both settings at once. A change re-predicts the results made otherwise (when there
        are at most :data:`AUTO_REPREDICT_FILES` files; more wait for :meth:`repredict`)."""
        choice(framing, FRAMING_MODES, "framing")
        choice(tta, TTA_MODES, "test-time augmentation")
        if (framing, tta) == self.setting:
            return
        self.framing, self.tta = framing, tta
        self._repredict_when_idle = True
        self._settle_stale()

    # -- commands -----------------------------------------------------------------------------
    def predict_paths(self, paths: Iterable[str]) -> bool:
        """Queue files and folders (the child expands folders). False, with a message, when
        there is no run to predict with or nothing was given."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return False
        if not self.run:
            self.message.emit(NO_RUN, True)
            return False
        self._enqueue(PredictJob(paths))
        return True

    def _enqueue(self, job: PredictJob) -> None:
        self.ensure_model()
        self._queue.append(job)
        self._next()
        self._update_busy()

    def predict_image(self, image: QImage) -> None:
        """A pasted image: saved as a PNG in a thread (encoding can take >50 ms), then predicted."""
        if not self.run:
            self.message.emit(NO_RUN, True)
            return
        self.pastes.start(lambda progress, cancel: save_pasted_image(image))

    def repredict(self) -> int:
        """Predict again, with the current settings, the files whose results used others;
        their old results go when the new ones arrive (a request that fails at once, such
        as face detection without OpenCV, leaves them). Returns how many files were queued."""
        rows = self.results.rows()
        stale = stale_positions(rows, self.setting)
        files = files_of(rows[k] for k in stale)
        self._repredict_when_idle = False
        if not files or not self.run:
            return 0
        note = f"Predicting {plural(len(files), 'file')} again with {setting_text(*self.setting)}…"
        self._enqueue(PredictJob(files, note, replaces=[rows[k] for k in stale]))
        return len(files)

    def cancel(self) -> None:
        """Stop the running prediction between two batches and drop the queued ones."""
        had = bool(self._queue)
        self._queue.clear()
        self._repredict_when_idle = False
        if self.predictions.busy:
            self.predictions.cancel()
            self.progressed.emit(-1, -1, "Cancelling…")
        elif had:
            self.message.emit("Cancelled", False)
        self._update_busy()

    def clear(self) -> None:
        """Remove every result; a running prediction is cancelled and its late rows dropped."""
        self._queue.clear()
        self._repredict_when_idle = False
        if self.predictions.busy:
            self.predictions.cancel()
            self.predictions.drop()
            self._job = None
        self._drop_heat()
        self.results.clear()
        self.stale_changed.emit(0)
        self._update_busy()
        self.kick()

    def export_csv(self, path: str) -> None:
        """Save every result (whatever the filter shows) as CSV, in a thread."""
        rows = self.results.rows()
        if not rows:
            self.message.emit("Nothing to export yet", True)
            return
        self.exports.start(lambda progress, cancel: (write_csv(rows, path), len(rows)))

    def refresh_labels(self) -> None:
        """Label edits (or undo) in the browser: rows of dataset images take today's labels,
        so what the model disagrees with is the label the dataset has now."""
        if self.dataset is None or self.store is None:
            return
        ids = self.results.dataset_ids()
        if not ids:
            return
        positions = self.dataset.position(ids)
        labels: dict[str, str | None] = {}
        for image_id, at in zip(ids, positions.tolist(), strict=True):
            labels[image_id] = None if at < 0 else ("Male" if self.store.male[at] else "Female")
        self.results.set_labels(labels)

    def dataset_rows(self, rows: Iterable[PredictionRow]) -> list[int]:
        """The open dataset's row positions of ``rows`` (those that are its images), each once."""
        if self.dataset is None:
            return []
        ids = list(dict.fromkeys(r.image_id for r in rows if r.image_id is not None))
        if not ids:
            return []
        return [int(p) for p in self.dataset.position(ids) if p >= 0]

    def is_busy(self) -> bool:
        """Predicting, or about to: what Cancel stops."""
        return self.predictions.busy or bool(self._queue)

    def shutdown(self) -> None:
        """End the engine child and wait for the file threads (closing the window)."""
        self._closing = True
        self._kick_timer.stop()
        self._queue.clear()
        self.engine.shutdown()
        for slot in (self.loads, self.predictions, self.cams):
            slot.drop()
        for tasks in (self.exports, self.pastes):
            tasks.cancel()
            tasks.wait()

    # -- the model ----------------------------------------------------------------------------
    def ensure_model(self) -> None:
        if not self.run or self.run in (self.loaded_run, self._want_load) or self._closing:
            return
        if self.loads.busy:
            return  # loading this run already (another run's load was dropped)
        self._want_load = self.run
        self.model_changed.emit("Loading model…", self.run, False)
        self._next()

    def _on_loaded(self, info: object) -> None:
        info = info if isinstance(info, dict) else {}
        self.loaded_run = self.run
        tip = f"{info.get('run', self.run)}\nweights: {info.get('checkpoint', '?')}"
        self.model_changed.emit(model_text(info), tip, False)
        self.model_loaded.emit(info)
        self._after_request()

    def _on_load_failed(self, message: str) -> None:
        self.load_error = message
        self.model_changed.emit(f"Cannot load this run: {message}", message, True)
        self.model_failed.emit(message)
        self._after_request()

    # -- the scheduler ------------------------------------------------------------------------
    def kick(self, *_args: object) -> None:
        """Look for the next request soon (coalesces scrolls and batch arrivals)."""
        if not self._closing:
            self._kick_timer.start()

    def _in_flight(self) -> bool:
        return self.loads.busy or self.predictions.busy or self.cams.busy

    def _next(self) -> None:
        if self._closing or self._in_flight():
            return
        if self._want_load:
            self.loads.request("load", run=self._want_load, device="auto")
            self._want_load = None
        elif self._queue:
            self._send(self._queue.popleft())
        else:
            self._next_heat()
        self._update_busy()

    def _send(self, job: PredictJob) -> None:
        job.setting, job.started = self.setting, time.monotonic()
        self._job = job
        self.predictions.request(
            "predict",
            run=self.run,
            paths=job.paths,
            framing=job.setting[0],
            tta=job.setting[1],
            dataset=self.dataset_source,
        )
        starting = "Reading files…" if self.loaded_run else "Starting the engine…"
        self.progressed.emit(0, 0, job.note or starting)

    def _after_request(self) -> None:
        self._update_busy()
        if not self._closing:
            self._settle_stale()
            self._next()

    def _update_busy(self) -> None:
        busy = self.is_busy()
        if busy != self._was_busy:
            self._was_busy = busy
            self.busy_changed.emit(busy)

    # -- predictions --------------------------------------------------------------------------
    def _on_progress(self, done: int, total: int, _message: str) -> None:
        job = self._job
        if job is None:
            return
        rate = done / max(time.monotonic() - job.started, 1e-6)
        queued = f" · {plural(len(self._queue), 'more job')} queued" if self._queue else ""
        self.progressed.emit(
            done, total, f"{done:,} / {total:,} images · {rate:,.0f} img/s{queued}"
        )

    def _on_rows(self, messages: object) -> None:
        job = self._job
        if job is None or self._closing or not isinstance(messages, list):
            return
        if job.replaces:  # the first new results of a re-predict: the old ones go now
            old = {id(row) for row in job.replaces}
            job.replaces = []
            self._drop_heat()
            self.results.remove([k for k, r in enumerate(self.results.rows()) if id(r) in old])
            self.results.reset_pending()
            self.stale_changed.emit(self._stale_files())
        rows = self.results.append(messages)
        job.tally.add(rows)
        self.rows_added.emit(rows)
        if job.setting != self.setting:  # made with settings the panel no longer shows
            self.stale_changed.emit(self._stale_files())

    def _on_predicted(self, result: object) -> None:
        job, self._job = self._job, None
        summary = result if isinstance(result, dict) else {}
        if job is not None:
            seconds = time.monotonic() - job.started
            parts = job_summary(summary, job.tally, job.setting[0], seconds)
            if parts is None:
                self.message.emit(NO_IMAGES, True)
            else:
                self.summary.emit(parts)
        self.finished.emit(summary)
        self._after_request()

    def _on_predict_failed(self, message: str) -> None:
        self._job = None
        self.message.emit(f"Prediction failed: {message}", True)
        self.failed.emit(message)
        self._after_request()

    def _stale_files(self) -> int:
        rows = self.results.rows()
        return len(files_of(rows[k] for k in stale_positions(rows, self.setting)))

    def _settle_stale(self) -> None:
        """Say how many files used other settings; re-predict them when a changed setting
        asked for it, nothing else is running and they are few enough."""
        stale = self._stale_files()
        self.stale_changed.emit(stale)
        if self._repredict_when_idle and not self.is_busy():
            self._repredict_when_idle = False
            if 0 < stale <= AUTO_REPREDICT_FILES:
                self.repredict()

    # -- Grad-CAM -----------------------------------------------------------------------------
    def _next_heat(self) -> None:
        if not self.grad_cam or not self.run or self.run != self.loaded_run:
            return
        total = self.results.total()
        for position in self.candidates():
            if not 0 <= position < total:
                continue
            row = self.results.row_at(position)
            if row.p_male is None or self.results.heat_state(position) != HeatState.NONE:
                continue
            self.results.set_heat_state(position, HeatState.PENDING)
            self._heat_position = position
            self.cams.request(  # the very picture the row was predicted on
                "grad_cam", run=self.run, path=row.path, framing=row.framing, face=row.face
            )
            return

    def _drop_heat(self) -> None:
        """Forget the Grad-CAM request in flight: its row may be gone or its model replaced."""
        self.cams.drop()
        self._heat_position = -1

    def _on_heat(self, result: object) -> None:
        position, self._heat_position = self._heat_position, -1
        if isinstance(result, dict) and 0 <= position < self.results.total():
            try:
                blended = heatmap.overlay_result(result)  # the whole picture: its aspect kept
            except (KeyError, ValueError, IndexError) as exc:
                self.results.set_heat_state(position, HeatState.FAILED, str(exc))
            else:
                self.results.set_heat(position, to_qimage(blended))
                self.heat_ready.emit(position)
        self._after_request()

    def _on_heat_failed(self, message: str) -> None:
        position, self._heat_position = self._heat_position, -1
        if 0 <= position < self.results.total():
            self.results.set_heat_state(position, HeatState.FAILED, message)
        self._after_request()

    # -- file threads -------------------------------------------------------------------------
    def _predict_saved(self, path: object) -> None:
        self.predict_paths([str(path)])

    def _paste_failed(self, message: str) -> None:
        self.message.emit(f"Cannot save the pasted image: {message}", True)

    def _exported(self, result: object) -> None:
        out, count = result  # type: ignore[misc]
        self.message.emit(f"Saved {plural(count, 'row')} to {out}", False)
        self.exported.emit(out)

    def _export_failed(self, message: str) -> None:
        self.message.emit(f"Export failed: {message}", True)


def model_text(info: dict[str, Any]) -> str:
    """ "Model: resnet18 · 32 px · epoch 2 · CPU": what predicts, in one line."""
    epoch = info.get("epoch")
    parts = [
        f"Model: {info.get('backbone', '?')}",
        f"{info.get('input_size', '?')} px",
        f"epoch {epoch}" if epoch is not None else str(info.get("checkpoint", "")),
        device_label(str(info.get("device", ""))),
    ]
    return " · ".join(p for p in parts if p)
