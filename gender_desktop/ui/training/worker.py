"""Runs the Qt-free :class:`Trainer` in a QThread and turns its events into signals.

Batch events arrive hundreds of times a second on a GPU; they are throttled to about 20 a second
(the last one of an epoch always passes) so the event loop never floods.
"""

from __future__ import annotations

import time
import traceback

from PySide6.QtCore import QThread, Signal

from gender_desktop.data.dataset import Dataset
from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.events import BatchEnd, Control, EpochEnd, LogLine, PhaseProgress
from gender_desktop.runs.folder import RunFolder

BATCH_INTERVAL_S = 0.05


class TrainingWorker(QThread):
    batch = Signal(object)  # BatchEnd
    epoch = Signal(object)  # EpochEnd
    phase = Signal(object)  # PhaseProgress
    log = Signal(str)
    done = Signal(dict)  # the summary
    failed = Signal(str)

    def __init__(
        self,
        config: TrainConfig,
        dataset: Dataset,
        run: RunFolder,
        resume: bool = False,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.config, self.dataset, self.run_folder, self.resume = config, dataset, run, resume
        self.control = Control()
        self._last_batch = 0.0

    def _on_event(self, event: object) -> None:
        if isinstance(event, BatchEnd):
            now = time.monotonic()
            if now - self._last_batch >= BATCH_INTERVAL_S or event.batch == event.batches:
                self._last_batch = now
                self.batch.emit(event)
        elif isinstance(event, EpochEnd):
            self.epoch.emit(event)
        elif isinstance(event, PhaseProgress):
            self.phase.emit(event)
        elif isinstance(event, LogLine):
            self.log.emit(event.message)

    def run(self) -> None:
        try:
            from gender_desktop.ml.trainer import Trainer  # torch loads here, off the GUI thread

            trainer = Trainer(
                self.config, self.run_folder, self._on_event, self.control, dataset=self.dataset
            )
            summary = trainer.run(resume=self.resume)
        except Exception as exc:  # noqa: BLE001 - shown as a message; the app keeps running
            if type(exc).__name__ not in ("TrainingFailed", "WeightsUnavailable", "DatasetError"):
                traceback.print_exc()
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.done.emit(summary)
