"""The Train panel: the settings form, a line that says what will run (and where its starting
weights come from), Start / Pause / Stop, live curves (:mod:`.curves`), a progress bar that
says which epoch of how many, the phase, images/s and the whole run's time left, and the log."""

from __future__ import annotations

import contextlib
import html
import threading
import time
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.data.dataset import Dataset
from gender_desktop.durations import duration_text
from gender_desktop.errors import UserError
from gender_desktop.ml import weights_check
from gender_desktop.ml.device import gpus_in
from gender_desktop.ml.events import VALIDATING, BatchEnd, EpochEnd, PhaseProgress
from gender_desktop.runs.folder import RunFolder, workspace_path
from gender_desktop.runs.speed import device_kind
from gender_desktop.sweeps.events import SweepEnded, SweepStarted, TrialEnded, TrialStarted
from gender_desktop.sweeps.space import describe
from gender_desktop.sweeps.spec import SweepSpec
from gender_desktop.sweeps.storage import default_url
from gender_desktop.ui import file_dialogs
from gender_desktop.ui.engine import ProcessClient
from gender_desktop.ui.sweeps.dialog import SweepDialog
from gender_desktop.ui.sweeps.results_dialog import SweepResultsDialog
from gender_desktop.ui.sweeps.worker import SweepWorker
from gender_desktop.ui.training import progress_text
from gender_desktop.ui.training.curves import TrainingCurves
from gender_desktop.ui.training.form import TrainingForm
from gender_desktop.ui.training.worker import TrainingWorker

TRAINING_IDLE_S = 10.0  # an ended run's child goes soon: it may hold GPU memory and a large cache
FAILED_COLOUR = "#c62828"  # a failed run's progress bar
NETWORK_ANSWER_S = 60.0  # how long the download server's answer (to the probe) is believed


class TrainingPanel(QWidget):
    run_finished = Signal(dict)
    running_changed = Signal(bool)
    _network_answered = Signal(bool)  # from the probe's daemon thread, queued to the GUI

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.device_text = "the best available device"
        self.worker: TrainingWorker | None = None
        self.run: RunFolder | None = None
        # The training child: each run is a "train" request to it (a queue of runs would be a
        # queue of requests), through the one process layer.
        self.client = ProcessClient("training", self, idle_release_s=TRAINING_IDLE_S)
        self.form = TrainingForm()
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # As wide as the form wants plus the vertical scroll bar: no field is cut off.
        scroll.setMinimumWidth(
            self.form.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4
        )

        self.plan = QLabel()
        self.plan.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.sweep_button = QPushButton("Sweep…")
        self.sweep_button.setToolTip(
            "Many runs of these settings with some of them varied (grid, random or TPE on "
            "Optuna), one after another"
        )
        self.results_button = QPushButton("Sweep Results…")
        self.results_button.setToolTip("The trials of the sweeps in the storage, and their best")
        self.sweep_progress = QProgressBar(textVisible=True)
        self.sweep_progress.hide()
        self.last_study: tuple[str, str] | None = None  # (storage URL, study) of the last sweep
        self.results_dialog: SweepResultsDialog | None = None
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.open_button = QPushButton("Open Run Folder")
        self.resume_button = QPushButton("Resume a Run…")
        self.resume_button.setToolTip(
            "Continue an interrupted run (stopped, crashed or killed) from its last checkpoint"
        )
        for b in (self.pause_button, self.stop_button, self.open_button):
            b.setEnabled(False)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setFormat("Ready")
        self.progress.setValue(0)  # an unset bar (value -1) shows no text at all
        self._progress_base = "Ready"  # the bar's text without the "Paused" mark
        self._last_batch: BatchEnd | None = None
        # The download server's answer for ImageNet weights that are not cached: asked by a
        # background task (never the GUI thread), believed for NETWORK_ANSWER_S.
        self._network: bool | None = None
        self._network_at: float | None = None  # when it answered; None: ask (again)
        self._probe: threading.Thread | None = None
        self._network_answered.connect(self._on_network_answer)
        self.plots = TrainingCurves()
        self.curves = self.plots.curves
        self.loss_plot, self.acc_plot = self.plots.loss_plot, self.plots.acc_plot
        self.best_lines = self.plots.best_lines
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(5000)

        buttons = QHBoxLayout()
        for b in (
            self.start_button,
            self.sweep_button,
            self.pause_button,
            self.stop_button,
            self.resume_button,
            self.open_button,
            self.results_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.plots)
        plots.addWidget(self.log_view)
        plots.setSizes([620, 160])
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.plan)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.sweep_progress)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(plots, 1)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([360, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.start_button.clicked.connect(lambda: self.start())
        self.sweep_button.clicked.connect(self.open_sweep_dialog)
        self.results_button.clicked.connect(lambda: self.open_sweep_results())
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.open_button.clicked.connect(self._open_run_folder)
        self.resume_button.clicked.connect(self._choose_run_to_resume)
        self.form.changed.connect(self.update_plan)
        self._reset_series()
        self.update_plan()

    # -- state ------------------------------------------------------------------------------------
    def set_dataset(self, dataset: Dataset | None) -> None:
        self.dataset = dataset
        self.update_plan()

    def set_device_text(self, text: str) -> None:
        self.device_text = text
        self.form.set_gpu_count(gpus_in(text))
        self.update_plan()

    def is_running(self) -> bool:
        return self.worker is not None and self.worker.running

    def update_plan(self) -> None:
        """The line that says, before anything runs, what will train where from what."""
        form = self.form
        if self.dataset is None:
            self.plan.setText("Open a dataset in the Browse panel to train on it.")
            self.start_button.setEnabled(False)
            self.sweep_button.setEnabled(False)
            return
        device = form.device.currentText()
        where = self.device_text if device == "auto" else device
        if form.ddp_processes():
            where = f"all {form.ddp_processes()} GPUs at once (DDP)"
        text = (
            f"<b>{form.backbone.currentText()}</b> · {form.scope.currentText().lower()} · "
            f"{form.input_size.value()} px · on <b>{where}</b> · "
        )
        weights = self.weights_plan()  # where they come from, their size; red: cannot be had
        if weights.available is False:
            text += (
                f'<span style="color:{self._problem_colour()}">{html.escape(weights.text)}</span>'
            )
        else:
            text += f"<b>{html.escape(weights.text)}</b>"
        text += f" · dataset: {self.dataset.name} ({len(self.dataset):,} images)"
        self.plan.setText(text)
        self.plan.setToolTip(weights.advice)
        self.start_button.setEnabled(not self.is_running())
        self.sweep_button.setEnabled(not self.is_running())

    def _problem_colour(self) -> str:
        """Red text that reads on the theme's background (a dark red is dim on dark grey)."""
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        return "#ff6b6b" if dark else FAILED_COLOUR

    def weights_plan(self) -> weights_check.WeightsPlan:
        """Where the form's starting weights come from; asks the network in the background
        when that matters (ImageNet weights that are not cached) and the last answer is old."""
        form = self.form
        plan = weights_check.plan(form.backbone_name(), form.weights_source(), self._network)
        at = self._network_at
        fresh = at is not None and time.monotonic() - at < NETWORK_ANSWER_S
        if plan.needs_network and not fresh and self._probe is None:
            self._ask_network(weights_check.imagenet_file_url(form.backbone_name()) or "")
        return plan

    def _ask_network(self, url: str) -> None:
        """Ask in a daemon thread, not a QThread: a probe stuck in name resolution (which
        urllib's timeout does not bound) must neither freeze the window nor hold up closing
        it, and a daemon thread is simply left behind when the app exits."""

        def probe() -> None:
            try:
                reachable = weights_check.network_reachable(url)
            except Exception:  # noqa: BLE001 - any failure to answer means "no network"
                reachable = False
            with contextlib.suppress(RuntimeError):  # the panel was closed meanwhile
                self._network_answered.emit(reachable)

        self._probe = threading.Thread(target=probe, name="weights-network-probe", daemon=True)
        self._probe.start()

    def _on_network_answer(self, reachable: bool) -> None:
        self._probe = None
        self._network, self._network_at = reachable, time.monotonic()
        self.update_plan()

    def _reset_series(self, epochs: int | None = None) -> None:
        """Empty curves with reset ranges for the run that starts."""
        self.plots.reset(epochs)
        self.series = self.plots.series
        self._last_batch = None

    # -- control ----------------------------------------------------------------------------------
    def start(self, resume_run: RunFolder | None = None) -> TrainingWorker | None:
        if self.dataset is None or self.is_running():
            return None
        try:
            ddp = self.form.ddp_processes()
            if resume_run is not None:
                config = resume_run.train_config()
                rows = resume_run.read_metrics()
                ddp = resumed_processes(resume_run.read_config())
            else:
                config = self.form.config(str(self.dataset.root))
        except (UserError, ValueError, OSError) as exc:
            self._append_log(f"Cannot start: {exc}")
            return None
        if resume_run is None and not self._weights_can_be_had():
            return None
        self._reset_series(config.epochs)
        name = f"{config.model.backbone}-{config.model.scope.replace(':', '-')}"
        # The name only: the folder appears when the run writes its first file, so a run that
        # fails while preparing leaves none behind.
        self.run = resume_run or RunFolder.create(name)
        self.worker = TrainingWorker(
            self.client,
            config,
            self.run,
            resume=resume_run is not None,
            parent=self,
            ddp=ddp,
        )
        self._connect(self.worker)
        self.sweep_progress.hide()
        self._append_log(f"Run folder: {self.run.path}")
        if resume_run is not None:  # show the epochs already done
            for row in rows:
                self._on_epoch(EpochEnd(row, False))
        self._set_running(True)
        self.worker.start()
        return self.worker

    def _weights_can_be_had(self) -> bool:
        """Refuse at once ImageNet weights known to be neither cached nor downloadable, with
        the message the engine and the CLI give (the network is asked again for the next
        Start). A missing file or run is the engine's to say, before it decodes anything."""
        form = self.form
        plan = self.weights_plan()
        if plan.available is not False or not plan.needs_network:
            return True  # available, not known yet, or a file/run: the engine checks them first
        try:  # the engine's own check, told what the probe found: the same message
            weights_check.require(form.backbone_name(), "imagenet", probe=lambda url: False)
        except weights_check.WeightsUnavailable as exc:
            message = str(exc)
        else:  # cached since the plan was made
            return True
        self._network_at = None  # ask again: the network may be back for the next Start
        self.weights_plan()
        self._show_failure(message, short=plan.text)
        self.run_finished.emit({"failed": message})
        return False

    def _connect(self, worker: TrainingWorker, done=None) -> None:
        worker.batch.connect(self._on_batch)
        worker.epoch.connect(self._on_epoch)
        worker.phase.connect(self._on_phase)
        worker.log.connect(self._append_log)
        worker.done.connect(done or self._on_done)
        worker.failed.connect(self._on_failed)
        worker.ended.connect(self._on_run_ended)

    # -- sweeps -----------------------------------------------------------------------------------
    def open_sweep_dialog(self) -> SweepDialog | None:
        """The sweep dialog, starting from the form's settings; Start runs the sweep here."""
        if self.dataset is None or self.is_running():
            return None
        try:
            base = self.form.config(str(self.dataset.root))
        except (UserError, ValueError) as exc:
            self._append_log(f"Cannot sweep: {exc}")
            return None
        split = self.dataset.table["split"].astype(str).to_numpy()
        device = base.device  # "cuda" for "All N GPUs": a sweep's trials run one per process
        dialog = SweepDialog(
            base,
            int((split == "train").sum()),
            int((split == "val").sum()),
            device_kind(self.device_text if device == "auto" else device),
            default_storage=default_url(),
            parent=self,
            gpus=gpus_in(self.device_text) if device in ("auto", "cuda") else 0,
        )
        dialog.accepted.connect(
            lambda: self.start_sweep(dialog.build_spec(), per_gpu=dialog.workers() > 1)
        )
        dialog.open()
        return dialog

    def start_sweep(self, spec: SweepSpec, per_gpu: bool = False) -> SweepWorker | None:
        """Run ``spec`` in the training child, one trial at a time: the curves show the
        current trial, the upper bar the whole sweep. ``per_gpu``: the child starts a worker
        process per GPU instead (the log and the bar follow their trials)."""
        from gender_desktop.ml.sweep_jobs import spec_to_dict

        if self.is_running():
            return None
        self._reset_series()
        self.last_study = (spec.storage or "", spec.study_name())
        worker = SweepWorker(
            self.client,
            "sweep",
            {"spec": spec_to_dict(spec), "runs_dir": None, "per_gpu": per_gpu},
            parent=self,
        )
        self._start_worker(worker, self._on_sweep_done)
        self.sweep_progress.setFormat("Starting the sweep…")
        self.sweep_progress.show()
        self._append_log(f"Sweep {self.last_study[1]}: {', '.join(spec.space_texts())}")
        return worker

    def start_retrain(self, storage: str, study: str) -> SweepWorker | None:
        """Retrain a study's best trial on train + val and evaluate it once on test."""
        if self.is_running():
            self._append_log("Cannot retrain while a training or sweep is running")
            return None
        self._reset_series()
        worker = SweepWorker(
            self.client,
            "sweep_retrain",
            {"storage": storage, "study": study, "runs_dir": None},
            parent=self,
        )
        self._start_worker(worker, self._on_done)
        self._append_log(f"Retraining the best trial of {study} on train + val")
        return worker

    def _start_worker(self, worker: SweepWorker, done) -> None:
        self.worker = worker
        self._connect(worker, done)
        worker.sweep.connect(self._on_sweep_event)
        self._set_running(True)
        worker.start()

    def open_sweep_results(self, storage: str | None = None, study: str | None = None):
        """The Sweep Results window (the last sweep's study, or the newest in the storage)."""
        storage = storage if storage is not None else (self.last_study or ("", ""))[0]
        study = study if study is not None else (self.last_study or ("", ""))[1]
        if self.results_dialog is not None:
            self.results_dialog.close()
        dialog = SweepResultsDialog(default_url(), storage, study, parent=self)
        dialog.retrain_requested.connect(self.start_retrain)
        dialog.show()
        self.results_dialog = dialog
        return dialog

    def _on_sweep_event(self, event: object) -> None:
        bar = self.sweep_progress
        if isinstance(event, SweepStarted):
            self.last_study = (self.last_study or ("", ""))[0], event.study
            bar.setMaximum(max(event.total, 1))
            bar.setValue(event.done)
            bar.setFormat(f"sweep {event.study}: {event.done} of {event.total} trials done")
        elif isinstance(event, TrialStarted):
            self._reset_series()  # the curves follow the current trial
            if event.run_dir:
                self.run = RunFolder(Path(event.run_dir))
            bar.setMaximum(max(event.total, 1))
            bar.setValue(event.index - 1)
            bar.setFormat(f"trial {event.index} of {event.total}: {describe(event.params)}")
            self._append_log(f"Trial {event.index}/{event.total}: {describe(event.params)}")
        elif isinstance(event, TrialEnded):
            bar.setValue(event.index)
            value = f" · {event.value:.4f}" if event.value is not None else ""
            why = f" ({event.message})" if event.message else ""
            self._append_log(f"Trial {event.index}/{event.total} {event.state}{value}{why}")
        elif isinstance(event, SweepEnded):
            counts = ", ".join(f"{n} {state}" for state, n in event.counts.items())
            ending = "stopped (run it again to continue)" if event.stopped else "finished"
            bar.setFormat(f"sweep {event.study} {ending}: {counts}")
            self._append_log(f"Sweep {ending}: {counts}")

    def _on_sweep_done(self, summary: dict) -> None:
        best = summary.get("best")
        text = f"Sweep {summary.get('study', '')}: {len(summary.get('trials') or [])} trials"
        if best:
            text += f" · best on validation: trial {best['number']} ({describe(best['params'])})"
        self.progress.setFormat(text)
        self._append_log(text + " · Sweep Results… shows them all")
        self.run_finished.emit(summary)

    def toggle_pause(self) -> None:
        if self.worker is None:
            return
        if self.worker.paused:
            self.worker.set_paused(False)
            self.pause_button.setText("Pause")
            self._append_log("Resumed")
        else:
            self.worker.set_paused(True)
            self.pause_button.setText("Resume")
            self._append_log("Paused (after the current batch)")
        self._set_progress_text(self._progress_base)

    def stop(self) -> None:
        if self.worker is not None and self.worker.running:
            self.worker.stop()
            self._append_log("Stopping after the current batch…")

    def shutdown(self) -> None:
        """Stop a running training (closing the window): ask, then end it after 10 s. A
        network probe under way is not waited for (a daemon thread)."""
        self.stop()
        self.client.shutdown(wait_s=10 if self.is_running() else 2)

    def _show_failed(self, failed: bool) -> None:
        """A failed run's bar is red and full, its text says why in short; the next start
        clears it (a failure looked exactly like a success, and "Failed" outlived it)."""
        self.progress.setProperty("failed", failed)
        if not failed:
            self.progress.setToolTip("")
        palette = self.progress.palette()
        colour = (
            QColor(FAILED_COLOUR) if failed else self.palette().color(QPalette.ColorRole.Highlight)
        )
        palette.setColor(QPalette.ColorRole.Highlight, colour)
        self.progress.setPalette(palette)

    def _set_running(self, running: bool) -> None:
        if running:
            self._show_failed(False)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self._set_progress_text("Starting…")
        self.start_button.setEnabled(not running and self.dataset is not None)
        self.sweep_button.setEnabled(not running and self.dataset is not None)
        self.resume_button.setEnabled(not running and self.dataset is not None)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.form.setEnabled(not running)
        self.open_button.setEnabled(self.run is not None)
        self.running_changed.emit(running)

    # -- events -----------------------------------------------------------------------------------
    def _set_progress_text(self, text: str) -> None:
        """The bar's text; while paused it keeps saying so, whatever event comes in (the
        batch under way used to overwrite "Paused")."""
        self._progress_base = text
        paused = self.worker is not None and self.worker.running and self.worker.paused
        self.progress.setFormat(progress_text.paused_text(text) if paused else text)

    def _on_phase(self, event: PhaseProgress) -> None:
        self.progress.setMaximum(max(event.total, 1))
        self.progress.setValue(event.done)
        if event.message == VALIDATING:
            last = self._last_batch
            epochs = last.epochs if last is not None else 0
            eta = last.run_eta_seconds if last is not None else None
            self._set_progress_text(progress_text.validating_text(event.epoch, epochs, eta))
        else:
            self._set_progress_text(f"{event.message}: %v / %m")

    def _on_batch(self, event: BatchEnd) -> None:
        self._last_batch = event
        self.progress.setMaximum(event.batches)
        self.progress.setValue(event.batch)
        self._set_progress_text(progress_text.batch_text(event))
        self.plots.add_batch(event)

    def _on_epoch(self, event: EpochEnd) -> None:
        self.plots.add_epoch(event.metrics, event.best)

    def _on_done(self, summary: dict) -> None:
        # The child may have taken the next free name; None: it wrote nothing (stopped early).
        self.run = RunFolder(Path(summary["run_dir"])) if summary.get("run_dir") else None
        acc = summary.get("best_val_accuracy")
        state = "Stopped" if summary.get("stopped") else "Finished"
        text = f"{state}: {summary['epochs']} epoch(s) in {duration_text(summary['train_seconds'])}"
        if acc is not None:
            text += f" · best val accuracy {acc:.3f}"
        test = summary.get("test")
        if test:
            text += f" · test accuracy {test['accuracy']:.3f} (details in the Evaluate tab)"
        self._set_progress_text(text)
        self._append_log(text)
        self.run_finished.emit(summary)

    def _on_failed(self, message: str) -> None:
        if self.run is not None and not self.run.exists():  # the failed run left no folder
            self.run = None
        self._show_failure(message)
        self.run_finished.emit({"failed": message})

    def _show_failure(self, message: str, short: str = "") -> None:
        """The red, full bar saying why in short (``short``, else the message's first line),
        the whole message as its tooltip and in the log."""
        self._show_failed(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        first = short or (message.splitlines()[0] if message else "")
        self._set_progress_text(f"Failed: {first[:120]}" + ("…" if len(first) > 120 else ""))
        self.progress.setToolTip(message)
        self._append_log(f"Training failed: {message}")

    def _on_run_ended(self) -> None:
        self._set_running(False)
        self.update_plan()

    def _append_log(self, message: str) -> None:
        self.log_view.appendPlainText(message)

    def _choose_run_to_resume(self) -> None:
        folder = file_dialogs.choose_folder(self, "runs", "Resume a run", fallback=workspace_path())
        if folder:
            self.start(resume_run=RunFolder(Path(folder)))

    def _open_run_folder(self) -> None:
        if self.run is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self.run.path))))


def resumed_processes(config: dict) -> int:
    """How many processes a run resumes on: as many as it trained on (config.json's
    ``distributed.world_size``; 0, one process, for a run without it), whatever the device
    list shows now: a run of 4 GPUs resumed on one would quietly train on a quarter of its
    global batch."""
    world = (config.get("distributed") or {}).get("world_size") if isinstance(config, dict) else 0
    return int(world) if isinstance(world, int) and world > 1 else 0
