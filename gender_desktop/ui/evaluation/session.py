"""The Evaluate tab's state and scheduling, without widgets: which run is shown, its saved
evaluation, the threshold, the gallery's list, and the engine jobs (evaluate, check the train
split, export, Grad-CAM) with their progress and outcomes, all as signals the panel renders.

Every background job goes through :mod:`gender_desktop.ui.tasks`: a :class:`TaskSlot` reads the
saved evaluation (a newer choice of run silences an older read), one :class:`RequestSlot`
carries the long job (one of evaluate / crossval at a time, with Cancel), another the export,
and :class:`~gender_desktop.ui.evaluation.gradcam.GradCams` its own. The numbers and the
gallery's positions come from the Qt-free :mod:`gender_desktop.ml.evaluation_views`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from gender_desktop.data.dataset import Dataset
from gender_desktop.data.labels import LabelStore
from gender_desktop.errors import UserError
from gender_desktop.ml.evaluation_views import (
    DEFAULT_VIEW,
    LABEL_ERRORS,
    EvaluationView,
    Scores,
    still_suspect,
)
from gender_desktop.ml.results import SavedEvaluation, load_evaluation
from gender_desktop.runs.catalog import cached_run_info
from gender_desktop.runs.folder import RunFolder
from gender_desktop.ui.engine import EngineClient
from gender_desktop.ui.evaluation.gradcam import GradCams
from gender_desktop.ui.tasks import RequestSlot, TaskSlot

JOB_TITLES = {"evaluate": "Evaluation", "crossval": "Checking the train split"}
ERROR = "<span style='color:#c0392b'>{}</span>"


@dataclass(frozen=True)
class GalleryItems:
    """What the gallery lists: dataset rows and their p(Male), in display order.

    ``total`` counts every image of the list, also those not in the open dataset (then
    ``elsewhere`` names the dataset they are in and ``rows`` is empty)."""

    key: str
    rows: np.ndarray
    p_male: np.ndarray
    total: int
    elsewhere: str = ""
    covers_train: bool = False


NO_ITEMS = GalleryItems("", np.empty(0, dtype=np.int64), np.empty(0), 0)


class EvaluationSession(QObject):
    """One run's evaluation on screen and the jobs about it; the panel only renders."""

    emptied = Signal(str)  # nothing to show, and why (or "Loading…")
    scored = Signal(object)  # Scores at the current threshold
    gallery_changed = Signal(object)  # GalleryItems of the current view
    loaded = Signal(dict)  # the evaluation now shown (after scored and gallery_changed)
    usable_changed = Signal(bool)  # the run can be evaluated / exported
    busy_changed = Signal(bool)  # an evaluate or crossval job is going on
    job_started = Signal(str)  # what it does, in words
    job_progress = Signal(int, int, str)
    job_failed = Signal(str)  # the message for the info line (HTML)
    crossval_done = Signal(dict)
    runs_written = Signal()  # a job wrote into the run folder: pickers refresh
    export_busy_changed = Signal(bool)
    export_ended = Signal(str)  # the outcome, for the info line (HTML)
    exported = Signal(list)
    cam_updated = Signal()
    cam_failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run = ""
        self.problem = ""  # why the run cannot be used, "" when it can
        self.view: EvaluationView | None = None
        self.threshold = 0.5
        self.key = DEFAULT_VIEW
        self.dataset: Dataset | None = None
        self.store: LabelStore | None = None
        self.part_rows = np.empty(0, dtype=np.int64)  # open-dataset row of each evaluated image
        self.engine = EngineClient(
            "evaluation",
            self,
            release_note="Evaluation model released after {idle} idle; it reloads when needed",
        )
        self.loader = TaskSlot(self)
        self.loader.succeeded.connect(self._on_loaded)
        self.loader.failed.connect(
            lambda message: self._empty(f"Cannot read this run's evaluation: {message}")
        )
        self.jobs = RequestSlot(self.engine, self)
        self.jobs.progressed.connect(self.job_progress)
        self.jobs.succeeded.connect(self._on_job_done)
        self.jobs.failed.connect(
            lambda message: self.job_failed.emit(
                ERROR.format(f"{self._job_title()} failed: {message}")
            )
        )
        self.jobs.busy_changed.connect(self.busy_changed)
        self.exports = RequestSlot(self.engine, self)
        self.exports.succeeded.connect(self._on_exported)
        self.exports.failed.connect(
            lambda message: self.export_ended.emit(ERROR.format(f"Export failed: {message}"))
        )
        self.exports.busy_changed.connect(self.export_busy_changed)
        self.cams = GradCams(self.engine, self)
        self.cams.updated.connect(self.cam_updated)
        self.cams.failed.connect(self.cam_failed)

    # -- what is shown ----------------------------------------------------------------------------
    @property
    def evaluation(self) -> dict[str, Any] | None:
        return self.view.evaluation if self.view is not None else None

    @property
    def saved(self) -> SavedEvaluation | None:
        return self.view.saved if self.view is not None else None

    @property
    def usable(self) -> bool:
        return bool(self.run) and not self.problem

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def set_run(self, run: str) -> None:
        """Show ``run``: its saved evaluation is read in the background. A damaged run
        (settings, an empty or cut-short checkpoint) says so at once instead of failing later in
        the engine; what only loading finds, evaluating reports."""
        self.run = run
        self.cams.forget()
        info = cached_run_info(Path(run)) if run else None
        self.problem = info.problem if info is not None and info.problem else ""
        self.usable_changed.emit(self.usable)
        if not run:
            self.loader.drop()  # a load already answered must not show now
            self._empty(
                "No trained run yet.\nTrain one in the Train tab; it is evaluated on its test "
                "split when it finishes."
            )
            return
        if self.problem:
            self.loader.drop()
            self._empty(f"This run cannot be used: {self.problem}")
            return
        self._empty("Loading the saved evaluation…")
        folder = RunFolder(Path(run))
        self.loader.start(lambda progress, cancel: load_evaluation(folder))

    def set_dataset(self, dataset: Dataset | None, store: LabelStore | None) -> None:
        self.dataset, self.store = dataset, store
        self.cams.forget()
        self._match_rows()
        self.gallery_changed.emit(self.gallery())

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        if self.view is not None:
            self.scored.emit(self.view.scores(threshold))
            self.gallery_changed.emit(self.gallery())

    def select(self, key: str) -> None:
        """Show the gallery list ``key`` (a confusion cell, a slice, the label errors)."""
        self.key = key
        self.gallery_changed.emit(self.gallery())

    def scores(self) -> Scores | None:
        return self.view.scores(self.threshold) if self.view is not None else None

    def gallery(self) -> GalleryItems:
        """The current view's images; suspects already relabeled to what the model says are
        left out (the saved labels are as evaluated, the store has today's)."""
        view = self.view
        if view is None:
            return NO_ITEMS
        if self.key == LABEL_ERRORS:
            ids, p = view.suspects()
            rows = self._rows_of_ids(ids)
            keep = still_suspect(p, rows, self.store.male if self.store is not None else None)
            rows, p = rows[keep], p[keep]
        else:
            positions = view.positions(self.key, self.threshold)
            p = view.p_male[positions]
            rows = self.part_rows[positions] if len(self.part_rows) else np.full(len(p), -1)
        covers = self.key == LABEL_ERRORS and view.suspects_cover_train()
        if not self.evaluated_dataset_is_open():
            name = view.evaluation.get("dataset", {}).get("name", "the evaluated dataset")
            return GalleryItems(
                self.key, np.empty(0, np.int64), np.empty(0), len(rows), name, covers
            )
        known = rows >= 0
        return GalleryItems(self.key, rows[known], p[known], int(known.sum()), "", covers)

    def p_of_row(self, row: int) -> float | None:
        """p(Male) of a dataset row in the evaluated split (None when it was not evaluated)."""
        hits = np.flatnonzero(self.part_rows == row)
        return float(self.view.p_male[hits[0]]) if self.view is not None and len(hits) else None

    def evaluated_dataset_is_open(self) -> bool:
        if self.dataset is None or self.evaluation is None:
            return False
        return self.evaluation.get("dataset", {}).get("fingerprint") == self.dataset.fingerprint

    def dataset_choices(self) -> list[tuple[str, str]]:
        """(text, source) of the datasets to evaluate on: the open one, the run's training
        dataset, and the dataset of the evaluation on screen when it is neither."""
        choices: list[tuple[str, str]] = []
        if self.dataset is not None:
            choices.append((f"Open: {self.dataset.name}", self.dataset.report.source))
        trained = self._trained_on()
        if trained and all(source != trained for _t, source in choices):
            choices.append((f"Trained on: {Path(trained).name}", trained))
        shown = (self.evaluation or {}).get("dataset", {})
        source = shown.get("source")
        if source and all(s != source for _t, s in choices):
            choices.append((f"Evaluated on: {shown.get('name', Path(source).name)}", source))
        return choices or [("The run's training dataset", "")]

    # -- engine jobs ------------------------------------------------------------------------------
    def evaluate(self, data: str | None, split: str) -> int | None:
        """Predict ``split`` of ``data`` (None: the run's training dataset) with the run's best
        weights; the run folder's files are read again when it is done."""
        if not self.usable:
            return None
        text = f"Evaluating {Path(self.run).name} on the {split} split…"
        return self._start("evaluate", text, data=data or None, split=split)

    def check_train_split(self, folds: int = 5) -> int | None:
        """Score the train split out-of-fold (k fresh heads on the run's backbone features),
        so the label-error list covers the images the run trained on as well."""
        if not self.usable or self.evaluation is None:
            return None
        source = self.evaluation.get("dataset", {}).get("source")
        text = f"Scoring the train split of {Path(self.run).name} with {folds}-fold heads…"
        return self._start("crossval", text, data=source, folds=folds)

    def _start(self, kind: str, text: str, **args: Any) -> int | None:
        if self.jobs.busy:  # one long job at a time: the buttons are off meanwhile
            return None
        rid = self.jobs.request(kind, run=self.run, **args)
        self.job_started.emit(text)
        return rid

    def cancel(self) -> None:
        """Cancel the evaluate / crossval job (and, by the watermark, nothing asked after it)."""
        self.jobs.cancel()

    def export(self, folder: str) -> int | None:
        """Write the run's model as TorchScript and ONNX into ``folder``, each verified."""
        if not self.usable:
            return None
        self.export_ended.emit(f"Exporting {Path(self.run).name} to TorchScript and ONNX…")
        return self.exports.request("export", run=self.run, out_dir=folder)

    def cam(self, image_id: str) -> tuple[np.ndarray, bool] | None:
        """The Grad-CAM overlay of an open-dataset image (and whether any region stands out),
        or None after asking the engine for it (``cam_updated`` follows)."""
        if self.dataset is None:
            return None
        key = (self.run, self.dataset.fingerprint, image_id)
        return self.cams.get(key, self.dataset.report.source)

    def shutdown(self) -> None:
        self.loader.wait()
        self.engine.shutdown()

    # -- outcomes ---------------------------------------------------------------------------------
    def _on_loaded(self, result: SavedEvaluation | None) -> None:
        if result is None:
            self._empty(
                "This run has no evaluation yet (it was stopped early or has no test split).\n"
                "Choose a dataset and split above and press Evaluate."
            )
            return
        self.view = EvaluationView(result)
        if not self.view.has_view(self.key):  # a slice of the evaluation shown before
            self.key = DEFAULT_VIEW
        self._match_rows()
        self.scored.emit(self.view.scores(self.threshold))
        self.gallery_changed.emit(self.gallery())
        self.loaded.emit(result.evaluation)

    def _on_job_done(self, result: object) -> None:
        if isinstance(result, dict) and result.get("cancelled"):
            self.job_failed.emit(
                f"{self._job_title()} cancelled; the previous results are unchanged."
            )
            return
        if self.jobs.kind == "crossval" and isinstance(result, dict):
            self.crossval_done.emit(result)
        self.runs_written.emit()
        self.set_run(self.run)  # reads the files the child wrote, in the background

    def _on_exported(self, result: object) -> None:
        if not isinstance(result, dict):
            self.export_ended.emit(ERROR.format("Export failed: the engine answered nothing"))
            return
        if result.get("cancelled"):
            self.export_ended.emit("Export cancelled; nothing was written.")
            return
        files = result["files"]
        names = [f"{Path(r['path']).name} (max difference {r['max_abs_diff']:.1e})" for r in files]
        text = f"Exported to {Path(files[0]['path']).parent}: " + ", ".join(names) + " · verified"
        for problem in result.get("problems", []):
            text += "<br>" + ERROR.format(f"Not exported: {problem}")
        self.export_ended.emit(text)
        self.exported.emit(files)

    def _job_title(self) -> str:
        return JOB_TITLES.get(self.jobs.kind, "The job")

    # -- helpers ----------------------------------------------------------------------------------
    def _empty(self, text: str) -> None:
        self.view = None
        self.part_rows = np.empty(0, dtype=np.int64)
        self.emptied.emit(text)

    def _match_rows(self) -> None:
        """Which open-dataset row each evaluated image is (-1 when another dataset is open)."""
        if self.view is None:
            self.part_rows = np.empty(0, dtype=np.int64)
            return
        self.part_rows = self._rows_of_ids(self.view.saved.part["image_id"].astype(str).to_numpy())

    def _rows_of_ids(self, ids: np.ndarray) -> np.ndarray:
        if not self.evaluated_dataset_is_open():
            return np.full(len(ids), -1, dtype=np.int64)
        assert self.dataset is not None
        return np.asarray(self.dataset.position(ids), dtype=np.int64)

    def _trained_on(self) -> str:
        if not self.run:
            return ""
        try:
            return RunFolder(Path(self.run)).train_config().data
        except UserError:  # a damaged run: the picker and the summary say what is wrong
            return ""
