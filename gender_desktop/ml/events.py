"""What the training engine reports, and how it is told to stop or pause (torch-free)."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# -- events ---------------------------------------------------------------------------------------
VALIDATING = "Validating"  # PhaseProgress.message while an epoch is validated


@dataclass
class PhaseProgress:
    done: int
    total: int
    message: str
    epoch: int = 0  # the epoch a training phase belongs to (validation); 0: none


@dataclass
class BatchEnd:
    """A training batch is done. Rates and times leave out time spent paused; ``eta_seconds``
    is the rest of this epoch's training, ``run_eta_seconds`` the rest of the whole run (the
    epochs left and their validation, from the epochs measured so far)."""

    epoch: int
    batch: int
    batches: int
    loss: float
    images_per_second: float
    eta_seconds: float
    epochs: int = 0  # the run's planned epochs ("epoch 3 of 10"); 0: not known
    run_eta_seconds: float = math.nan


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


# -- events as JSON lines (a torchrun run's rank 0 to the app, a sweep worker to its parent) --
def to_json_line(event: Any) -> str:
    """An event (a dataclass) as one JSON line, its class name under ``event``."""
    return json.dumps({"event": type(event).__name__, **dataclasses.asdict(event)}, default=str)


def by_name(*classes: type) -> dict[str, type]:
    """The table :func:`from_json_line` reads: each event class under its own name."""
    return {cls.__name__: cls for cls in classes}


def from_json_line(line: str, types: dict[str, type]) -> Any | None:
    """The event of one of ``types`` (by class name) that ``line`` holds, or None for a line
    that is not one (another program's output, a partial write)."""
    try:
        data = json.loads(line)
        cls = types[data.pop("event")]
        return cls(**data)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
