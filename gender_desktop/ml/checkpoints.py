"""Which epoch is kept: the best and last checkpoints, early stopping and the resume state.

The trainer hands every finished epoch to a :class:`CheckpointKeeper`; the keeper decides
whether it is the best so far (by the run's ``best_metric``: the lowest validation loss, or the
highest validation accuracy with the loss breaking ties), counts epochs without improvement for
early stopping, and writes ``metrics.csv``, ``best.pt`` and ``last.pt`` in an order that a
failed write (a full disk) or a kill cannot make inconsistent. Without a run folder it keeps
the best weights in memory, so early stopping can restore them. A run fitted on train + val has
nothing held out to choose with: its last epoch is the one kept.

``last.pt`` holds the keeper's state (``best_value``, ``bad_epochs``; ``best_val_loss`` too, as
older versions wrote it), so a resumed run decides exactly as the uninterrupted one would.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch

from gender_desktop.ml.config import TrainConfig
from gender_desktop.runs.folder import BEST, LAST, RunFolder, kept_epoch


class CheckpointKeeper:
    def __init__(self, config: TrainConfig, run: RunFolder | None) -> None:
        self.run = run
        # A frozen trunk: last.pt is the model plus a tiny optimizer state, so a best epoch's
        # best.pt is linked to last.pt instead of written again (a head-only sweep spent a
        # third of its time writing checkpoints twice).
        self.link_best = config.model.scope == "head"
        self.monitor = config.best_metric
        self.every_epoch = config.fit_on == "train+val"  # nothing held out: keep the latest
        self.patience = 0 if self.every_epoch else config.patience
        self.best_value = math.inf if self.monitor == "val_loss" else -math.inf
        self.best_loss = math.inf  # the kept epoch's val loss: breaks val-accuracy ties
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self._best_state: dict[str, torch.Tensor] | None = None

    # -- deciding ---------------------------------------------------------------------------------
    def is_better(self, row: dict[str, float]) -> bool:
        if self.every_epoch:
            return True
        if self.monitor == "val_loss":
            return row["val_loss"] < self.best_value
        accuracy = row["val_accuracy"]
        return accuracy > self.best_value or (
            accuracy == self.best_value and row["val_loss"] < self.best_loss
        )

    @property
    def should_stop(self) -> bool:
        """Early stopping: ``patience`` epochs in a row without a better epoch."""
        return bool(self.patience) and self.bad_epochs >= self.patience

    # -- recording --------------------------------------------------------------------------------
    def end_epoch(
        self, row: dict[str, float], history: list[dict[str, float]], training: dict[str, Any]
    ) -> bool:
        """Record a finished epoch (``row``, already in ``history``) with the state to resume
        from (``training``: model, optimizer, scheduler and scaler state dicts). Returns
        whether it is the new best. Files are written in this order: metrics.csv rows past
        last.pt's epoch are redone on resume, and best.pt never claims an epoch that last.pt
        would not redo identically."""
        improved = self.is_better(row)
        epoch = int(row["epoch"])
        if improved:
            self.best_value = row[self.monitor]
            self.best_loss, self.best_epoch, self.bad_epochs = row["val_loss"], epoch, 0
            if self.run is None and self.patience:
                self._best_state = {k: v.detach().clone() for k, v in training["model"].items()}
        else:
            self.bad_epochs += 1
        if self.run is not None:
            self.run.write_metrics(history)
            if improved and self.link_best:  # last.pt first: see restore() for a crash between
                self.run.save_checkpoint(LAST, training | self.state(epoch))
                self.run.link_checkpoint(LAST, BEST)
                return improved
            if improved:
                self.run.save_checkpoint(BEST, {"model": training["model"], "epoch": epoch})
            self.run.save_checkpoint(LAST, training | self.state(epoch))
        return improved

    def state(self, epoch: int) -> dict[str, Any]:
        """The keeper's part of last.pt."""
        return {
            "epoch": epoch,
            "best_value": self.best_value,
            "best_metric": self.monitor,
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch or 0,
            "best_val_loss": self.best_loss,  # what older versions read
            "bad_epochs": self.bad_epochs,
        }

    def restore(self, state: dict[str, Any]) -> bool:
        """Take the keeper's state from a last.pt; False when it is missing or damaged."""
        bad = state.get("bad_epochs")
        if state.get("best_metric", "val_loss") != self.monitor or not isinstance(bad, int):
            return False
        value = state.get("best_value", state.get("best_val_loss"))
        loss = state.get("best_loss", state.get("best_val_loss"))
        if not (isinstance(value, int | float) and isinstance(loss, int | float)):
            return False
        self.best_value, self.best_loss, self.bad_epochs = float(value), float(loss), bad
        best_epoch = state.get("best_epoch")
        self.best_epoch = best_epoch if isinstance(best_epoch, int) and best_epoch > 0 else None
        self._relink_if_cut(state.get("epoch"))
        return True

    def _relink_if_cut(self, epoch: object) -> None:
        """A linked best epoch is written as last.pt first, then linked: a kill between the
        two leaves last.pt saying its own epoch is the best while best.pt holds an older one.
        Link it now, so best.pt holds the epoch the keeper will go on from."""
        if not (self.link_best and self.run is not None and self.best_epoch == epoch):
            return
        last, best = self.run.path / LAST, self.run.path / BEST
        try:
            if best.exists() and os.path.samefile(last, best):
                return
        except OSError:
            pass
        self.run.link_checkpoint(LAST, BEST)

    def best_weights(self) -> dict[str, torch.Tensor] | None:
        """The kept epoch's weights (from best.pt, or memory without a run folder)."""
        if self.run is not None and self.run.has_checkpoint(BEST):
            return self.run.load_checkpoint(BEST)["model"]
        return self._best_state

    def kept(self, history: list[dict[str, float]]) -> dict[str, float] | None:
        """The metrics row of the epoch best.pt holds (by the same rule, from the history:
        a resumed run's earlier epochs count too)."""
        return kept_epoch(history, self.monitor, "train+val" if self.every_epoch else "train")


def last_checkpoint_name(run: RunFolder) -> str:
    """best.pt where there is one, else last.pt (a run stopped before any best)."""
    return BEST if run.has_checkpoint(BEST) else LAST
