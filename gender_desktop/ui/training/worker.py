"""Runs the Qt-free :class:`Trainer` in a child process and turns its events into signals.

A child process, not just a thread: importing torch and running Python-level training code
would otherwise share the GIL with the GUI (the import alone froze the window for over half a
second), and a CUDA crash could take the app down. The child gets the settings and the dataset
path, opens the dataset itself (label edits included, read-only), and sends events back
through a queue; stop and pause are ``multiprocessing`` events the trainer checks between
batches. This QThread only waits on the queue and re-emits, throttling batch events to about 20
a second.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import time
from typing import Any

from PySide6.QtCore import QThread, Signal

from gender_desktop.errors import explain
from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.events import BatchEnd, Control, EpochEnd, LogLine, PhaseProgress
from gender_desktop.runs.folder import RunFolder

BATCH_INTERVAL_S = 0.05


def train_in_child(
    settings: dict[str, Any],
    run_path: str,
    resume: bool,
    events: Any,
    stop: Any,
    pause: Any,
) -> None:
    """The child process's entry point (module level, so ``spawn`` can import it)."""
    last = [0.0]

    def send(event: object) -> None:
        if isinstance(event, BatchEnd):
            now = time.monotonic()
            if now - last[0] < BATCH_INTERVAL_S and event.batch != event.batches:
                return
            last[0] = now
        events.put(("event", event))

    try:
        from gender_desktop.ml.trainer import Trainer

        trainer = Trainer(
            TrainConfig.from_dict(settings),
            RunFolder(run_path),
            send,
            Control(stop=stop, pause=pause),
        )
        events.put(("done", trainer.run(resume=resume)))
    except Exception as exc:  # noqa: BLE001 - reported to the GUI as a message
        events.put(("failed", explain(exc, "training")))


class TrainingWorker(QThread):
    batch = Signal(object)  # BatchEnd
    epoch = Signal(object)  # EpochEnd
    phase = Signal(object)  # PhaseProgress
    log = Signal(str)
    done = Signal(dict)  # the summary
    failed = Signal(str)

    def __init__(self, config: TrainConfig, run: RunFolder, resume: bool = False, parent=None):
        super().__init__(parent)
        self.config, self.run_folder, self.resume = config, run, resume
        self._context = mp.get_context("spawn")
        self.control = Control(stop=self._context.Event(), pause=self._context.Event())
        self._child: Any = None

    def run(self) -> None:
        events = self._context.Queue()
        child = self._context.Process(
            target=train_in_child,
            args=(
                self.config.to_dict(),
                str(self.run_folder.path),
                self.resume,
                events,
                self.control.stop,
                self.control.pause,
            ),
            name="gender-desktop-training",
        )
        child.start()
        self._child = child
        try:
            while True:
                try:
                    kind, payload = events.get(timeout=0.2)
                except queue_mod.Empty:
                    if child.is_alive():
                        continue
                    try:  # it may have finished between the wait and the check
                        kind, payload = events.get(timeout=1.0)
                    except queue_mod.Empty:
                        self.failed.emit(
                            f"the training process ended unexpectedly (exit code {child.exitcode})"
                        )
                        return
                if kind == "event":
                    self._dispatch(payload)
                elif kind == "done":
                    self.done.emit(payload)
                    return
                else:
                    self.failed.emit(str(payload))
                    return
        finally:
            child.join(timeout=30)
            if child.is_alive():
                child.terminate()
                child.join()
            events.close()
            events.join_thread()
            self._child = None

    def kill(self) -> None:
        """End the child at once (closing the app while it is stuck in a long step)."""
        child = self._child
        if child is not None and child.is_alive():
            child.terminate()

    def _dispatch(self, event: object) -> None:
        if isinstance(event, BatchEnd):
            self.batch.emit(event)
        elif isinstance(event, EpochEnd):
            self.epoch.emit(event)
        elif isinstance(event, PhaseProgress):
            self.phase.emit(event)
        elif isinstance(event, LogLine):
            self.log.emit(event.message)
