"""What the training engine reports, and how it is told to stop or pause (torch-free)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


# -- events ---------------------------------------------------------------------------------------
@dataclass
class PhaseProgress:
    done: int
    total: int
    message: str


@dataclass
class BatchEnd:
    epoch: int
    batch: int
    batches: int
    loss: float
    images_per_second: float
    eta_seconds: float


@dataclass
class EpochEnd:
    metrics: dict[str, float]
    best: bool


@dataclass
class LogLine:
    message: str


@dataclass
class RunStarted:
    """The run's folder exists and training begins (trackers open their logs here).
    ``config`` is what config.json holds; ``start_epoch`` > 1 when resuming."""

    run_dir: str | None
    config: dict
    start_epoch: int = 1


@dataclass
class RunEnded:
    """The run is over (``state`` as status.json says: finished, stopped, pruned, failed);
    ``summary`` is what Trainer.run returns (empty for a failure)."""

    run_dir: str | None
    state: str
    summary: dict


Event = PhaseProgress | BatchEnd | EpochEnd | LogLine | RunStarted | RunEnded
Callback = Callable[[Event], None]


@dataclass
class Control:
    stop: threading.Event = field(default_factory=threading.Event)
    pause: threading.Event = field(default_factory=threading.Event)
    # Why stop was set: "stopped" (the user) or "pruned" (a sweep's pruner ended the trial).
    reason: str = "stopped"

    def prune(self) -> None:
        """End the run after the current batch as pruned (status.json says so)."""
        self.reason = "pruned"
        self.stop.set()
