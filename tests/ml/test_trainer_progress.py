"""What the trainer reports while it runs: which epoch of how many, the whole run's time left,
the validation phase, and times that leave out the time spent paused (real, tiny runs)."""

from __future__ import annotations

import threading
import time

from setups import tiny_config

from gender_desktop.ml.events import VALIDATING, BatchEnd, Control, PhaseProgress, RunStarted
from gender_desktop.ml.trainer import Trainer

PAUSE_S = 2.0


def test_a_paused_run_leaves_the_pause_out_of_epoch_time_and_images_per_second(colour_data):
    """Pause during epoch 1 for two seconds: that epoch's time, its images/s and the run's
    train_seconds are those of the work done, so epoch 1 reads like epoch 2."""
    control = Control()
    batches: list[BatchEnd] = []

    def on_event(event) -> None:
        if isinstance(event, BatchEnd):
            batches.append(event)
            if (event.epoch, event.batch) == (1, 1):
                control.pause.set()
                threading.Timer(PAUSE_S, control.pause.clear).start()

    config = tiny_config(colour_data, epochs=2, batch_size=8)
    started = time.perf_counter()
    summary = Trainer(config, callback=on_event, control=control).run()
    wall = time.perf_counter() - started
    assert summary["epochs"] == 2 and not summary["stopped"]
    assert summary["paused_seconds"] >= PAUSE_S - 0.1
    first, second = summary["history"]
    assert first["seconds"] + second["seconds"] <= wall - (PAUSE_S - 0.1)
    assert summary["train_seconds"] <= wall - (PAUSE_S - 0.1)
    # Counted with the pause, epoch 1's rate would be a fraction of epoch 2's.
    assert first["images_per_second"] > second["images_per_second"] / 3
    after_pause = [b for b in batches if b.epoch == 1 and b.batch > 1]
    assert all(b.images_per_second > second["images_per_second"] / 3 for b in after_pause)


def test_batches_say_the_epoch_of_how_many_and_the_runs_time_left(colour_data):
    """Every batch event carries the planned epochs and an ETA for the whole run that covers
    the epochs still to come (so it is larger than the epoch's own ETA until the last one);
    validation reports itself as a phase of its epoch, up to all its images."""
    events: list[object] = []
    summary = Trainer(tiny_config(colour_data, epochs=3), callback=events.append).run()
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert {b.epochs for b in batches} == {3}
    first_epoch = [b for b in batches if b.epoch == 1]
    last_epoch = [b for b in batches if b.epoch == 3]
    per_epoch = sum(r["seconds"] for r in summary["history"]) / 3
    # Early in epoch 1 more than two epochs are left; in the last one only its own rest.
    assert first_epoch[0].run_eta_seconds > first_epoch[0].eta_seconds + per_epoch
    assert last_epoch[-1].run_eta_seconds < per_epoch
    validating = [e for e in events if isinstance(e, PhaseProgress) and e.message == VALIDATING]
    started = next(e for e in events if isinstance(e, RunStarted))
    n_val = started.config["dataset"]["split_sizes"]["val"]
    assert {e.epoch for e in validating} == {1, 2, 3}
    assert [(e.done, e.total) for e in validating if e.done == e.total] == [(n_val, n_val)] * 3
    assert all(e.total == n_val for e in validating) and n_val > 0
