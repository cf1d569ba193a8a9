"""A sweep, or the retraining of a sweep's best, as one request to the training child.

The same child and the same protocol as a training (:class:`TrainingWorker`): the trainer's
events of the current trial arrive as for one run (the Train panel's curves show the current
trial), and the sweep's own events (SweepStarted, TrialStarted, TrialEnded, SweepEnded) come on
``sweep``. Stop is the request's cancel: the running trial ends after its batch (kept, marked
stopped, and enqueued again so running the same sweep later continues it); Pause pauses it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from gender_desktop.sweeps.events import SweepEnded, SweepStarted, TrialEnded, TrialStarted
from gender_desktop.ui.engine import ProcessClient
from gender_desktop.ui.training.worker import TrainingWorker

SWEEP_EVENTS = (SweepStarted, TrialStarted, TrialEnded, SweepEnded)


class SweepWorker(TrainingWorker):
    sweep = Signal(object)  # a sweep event

    def __init__(
        self, client: ProcessClient, kind: str, args: dict[str, Any], parent: QObject | None = None
    ) -> None:
        # No settings or run folder of its own: the child makes one per trial.
        super().__init__(client, None, None, parent=parent)  # type: ignore[arg-type]
        self.kind, self.args = kind, args

    def start(self) -> int:
        self.rid = self.client.request(self.kind, **self.args)
        self.running = True
        return self.rid

    def _on_event(self, rid: int, event: object) -> None:
        if rid == self.rid and isinstance(event, SWEEP_EVENTS):
            self.sweep.emit(event)
        else:
            super()._on_event(rid, event)
