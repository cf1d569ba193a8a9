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


Event = PhaseProgress | BatchEnd | EpochEnd | LogLine
Callback = Callable[[Event], None]


@dataclass
class Control:
    stop: threading.Event = field(default_factory=threading.Event)
    pause: threading.Event = field(default_factory=threading.Event)
