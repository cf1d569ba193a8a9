"""What the Train panel's progress bar says while a run trains, validates or is paused.

A QProgressBar format: ``%v`` and ``%m`` are its value and maximum. The times are the
trainer's, which leave out time spent paused; every duration is written by
:func:`gender_desktop.durations.duration_text`.
"""

from __future__ import annotations

import math

from gender_desktop.durations import duration_text
from gender_desktop.ml.events import BatchEnd

PAUSED = "Paused"


def epoch_of(epoch: int, epochs: int) -> str:
    """ "epoch 3 of 10" ("epoch 3" where the plan is not known)."""
    return f"epoch {epoch} of {epochs}" if epochs else f"epoch {epoch}"


def time_left(seconds: float | None) -> str:
    """ " · 4 min 49 s left", or nothing before there is an estimate."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    return f" · {duration_text(seconds)} left"


def batch_text(event: BatchEnd) -> str:
    """ "epoch 3 of 10 · batch %v / %m · 1,234 img/s · 4 min 49 s left" (left: the whole
    run, not only this epoch)."""
    return (
        f"{epoch_of(event.epoch, event.epochs)} · batch %v / %m · "
        f"{event.images_per_second:,.0f} img/s{time_left(event.run_eta_seconds)}"
    )


def validating_text(epoch: int, epochs: int, run_eta: float | None) -> str:
    """ "epoch 3 of 10 · Validating: %v / %m · 4 min 40 s left"."""
    return f"{epoch_of(epoch, epochs)} · Validating: %v / %m{time_left(run_eta)}"


def paused_text(text: str) -> str:
    """The bar's text while paused: "Paused" first, whatever event arrives."""
    return f"{PAUSED} · {text}" if text else PAUSED
