"""One training run as a ``train`` request to the training child, its events as signals.

A child process, not just a thread: importing torch and running Python-level training code
would otherwise share the GIL with the GUI (the import alone froze the window for over half a
second), and a CUDA crash could take the app down. The child (``gender_desktop.ml.service``,
through the one process layer ``gender_desktop.procs``) gets the settings and the run folder,
opens the dataset itself (label edits included, read-only), and sends the trainer's events back
as ``event`` replies, batch events throttled to about 20 a second. Stop is the request's cancel
and Pause its pause mark, both checked by the trainer between batches. With ``ddp`` (the form's
"All N GPUs"), the child runs the training under torchrun instead (``ml/launcher.py``) and
relays rank 0's events the same way. Because a training is
just a request, several queued on one client run one after the other.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.events import BatchEnd, EpochEnd, LogLine, PhaseProgress
from gender_desktop.runs.folder import RunFolder
from gender_desktop.ui.engine import ProcessClient


class TrainingWorker(QObject):
    batch = Signal(object)  # BatchEnd
    epoch = Signal(object)  # EpochEnd
    phase = Signal(object)  # PhaseProgress
    log = Signal(str)
    done = Signal(dict)  # the summary
    failed = Signal(str)
    ended = Signal()  # after done or failed: the run is over

    def __init__(
        self,
        client: ProcessClient,
        config: TrainConfig,
        run: RunFolder,
        resume: bool = False,
        parent: QObject | None = None,
        track: list[str] | None = None,
        ddp: int = 0,
    ) -> None:
        super().__init__(parent)
        self.client, self.config, self.run_folder, self.resume = client, config, run, resume
        self.track = track  # tracker names for the child (None: its default, TensorBoard)
        self.ddp = ddp  # processes (GPUs) under torchrun; 0: the child trains itself
        self.rid: int | None = None
        self.running = False
        self.paused = False
        client.event.connect(self._on_event)
        client.finished.connect(self._on_finished)
        client.failed.connect(self._on_failed)

    def start(self) -> int:
        self.rid = self.client.request(
            "train",
            settings=self.config.to_dict(),
            run_path=str(self.run_folder.path),
            resume=self.resume,
            track=self.track,
            ddp=self.ddp,
        )
        self.running = True
        return self.rid

    def set_paused(self, paused: bool) -> None:
        """Pause (or resume) after the current batch."""
        if self.rid is not None:
            self.paused = paused
            self.client.pause(self.rid, paused)

    def stop(self) -> None:
        """End the run after the current batch (its checkpoints and metrics are kept)."""
        if self.rid is not None:
            self.set_paused(False)
            self.client.cancel(upto=self.rid)

    def _on_event(self, rid: int, event: object) -> None:
        if rid != self.rid:
            return
        if isinstance(event, BatchEnd):
            self.batch.emit(event)
        elif isinstance(event, EpochEnd):
            self.epoch.emit(event)
        elif isinstance(event, PhaseProgress):
            self.phase.emit(event)
        elif isinstance(event, LogLine):
            self.log.emit(event.message)

    def _on_finished(self, rid: int, result: Any) -> None:
        if rid != self.rid or not self.running:
            return
        if isinstance(result, dict) and result.get("cancelled"):  # stopped before it started
            result = {"stopped": True, "epochs": 0, "train_seconds": 0.0}
        self._end()
        self.done.emit(dict(result) if isinstance(result, dict) else {})
        self.ended.emit()

    def _on_failed(self, rid: int, message: str) -> None:
        if rid != self.rid or not self.running:
            return
        self._end()
        self.failed.emit(message)
        self.ended.emit()

    def _end(self) -> None:
        self.running = False
        for signal, slot in (
            (self.client.event, self._on_event),
            (self.client.finished, self._on_finished),
            (self.client.failed, self._on_failed),
        ):
            signal.disconnect(slot)
