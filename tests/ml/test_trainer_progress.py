"""What the trainer reports while it runs: which epoch of how many, the whole run's time left,
the validation phase, and times that leave out the time spent paused (a real, tiny run)."""

from __future__ import annotations

import threading
import time

import pytest
from setups import tiny_config

from gender_desktop.ml.events import VALIDATING, BatchEnd, Control, PhaseProgress, RunStarted
from gender_desktop.ml.trainer import Trainer

PAUSE_S = 2.0


def test_progress_events_and_a_pause_that_is_not_counted(colour_data):
    """Pause during epoch 1 for two seconds: that epoch's time, its images/s and the run's
    train_seconds are those of the work done, so epoch 1 reads like epoch 2. Every batch
    event carries the planned epochs and an ETA for the whole run (larger than the epoch's
    own until the last epoch); validation reports itself as a phase of its epoch."""
    control = Control()
    events: list[object] = []

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, BatchEnd) and (event.epoch, event.batch) == (1, 1):
            control.pause.set()
            threading.Timer(PAUSE_S, control.pause.clear).start()

    config = tiny_config(colour_data, epochs=3, batch_size=8)
    started = time.perf_counter()
    summary = Trainer(config, callback=on_event, control=control).run()
    wall = time.perf_counter() - started
    assert summary["epochs"] == 3 and not summary["stopped"]
    assert summary["paused_seconds"] >= PAUSE_S - 0.1
    history = summary["history"]
    assert sum(r["seconds"] for r in history) <= wall - (PAUSE_S - 0.1)
    assert summary["wall_seconds"] <= wall - (PAUSE_S - 0.1)
    # one number for the run's training time everywhere: the epochs' time, as a run folder
    # (RunFolder.train_seconds), the runs table and the reports count it
    assert summary["train_seconds"] == round(sum(r["seconds"] for r in history), 3)
    # Counted with the pause, epoch 1's rate would be a fraction of epoch 2's.
    assert history[0]["images_per_second"] > history[1]["images_per_second"] / 3
    batches = [e for e in events if isinstance(e, BatchEnd)]
    after_pause = [b for b in batches if b.epoch == 1 and b.batch > 1]
    assert all(b.images_per_second > history[1]["images_per_second"] / 3 for b in after_pause)

    assert {b.epochs for b in batches} == {3}
    per_epoch = sum(r["seconds"] for r in history) / 3
    first = next(b for b in batches if b.epoch == 1)
    last = [b for b in batches if b.epoch == 3][-1]
    # Early in epoch 1 more than two epochs are left; in the last one only its own rest.
    assert first.run_eta_seconds > first.eta_seconds + per_epoch
    assert last.run_eta_seconds < per_epoch
    # The epoch's own rest after its first batch of 8: the other 56 of 64 train images.
    assert first.eta_seconds == pytest.approx(56 / first.images_per_second)

    validating = [e for e in events if isinstance(e, PhaseProgress) and e.message == VALIDATING]
    n_val = next(e for e in events if isinstance(e, RunStarted)).config["dataset"]["split_sizes"]
    n_val = n_val["val"]
    assert {e.epoch for e in validating} == {1, 2, 3}
    assert [(e.done, e.total) for e in validating if e.done == e.total] == [(n_val, n_val)] * 3
    assert all(e.total == n_val for e in validating) and n_val > 0
