"""What a sweep is: base settings, a space, how to sample it, where its study lives.

The metric a trial is judged on is the validation loss by default (minimised): it is what the
trainer already chooses each run's best epoch on (best.pt), it is what the pruners see falling
epoch by epoch, and unlike accuracy on a few hundred validation images it rarely ties. The
validation accuracy (maximised) is the other choice; it is read at the best epoch, so it scores
the weights the run keeps. The test split is never a metric: it is how the chosen model is
reported, not how it is chosen.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gender_desktop.ml.config import TrainConfig
from gender_desktop.sweeps.space import Param, SpaceError, Value

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "hyperband")
METRICS = {"val_loss": "minimize", "val_accuracy": "maximize"}
METRIC_TITLES = {"val_loss": "val loss", "val_accuracy": "val accuracy"}


@dataclass
class SweepSpec:
    base: TrainConfig
    space: tuple[Param, ...]
    sampler: str = "grid"
    trials: int | None = None  # random / tpe: trials in the study in all; grid: every point
    pruner: str = "none"
    storage: str | None = None  # an Optuna storage URL or journal:<file>; None: the app's SQLite
    study: str | None = None  # None: a name made from the dataset and the space (see study_name)
    metric: str = "val_loss"
    seed: int = 0  # the random and TPE samplers' seed
    # settings a worker may have of its own without being another sweep (its paths, devices)
    local: tuple[str, ...] = field(
        default=("data", "device", "workers", "amp", "amp_dtype", "compile"), repr=False
    )

    def validate(self) -> None:
        """The combination makes sense before anything is created (SpaceError says why)."""
        if self.sampler not in SAMPLERS:
            raise SpaceError(f"the sampler must be one of {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise SpaceError(f"the pruner must be one of {', '.join(PRUNERS)}")
        if self.metric not in METRICS:
            raise SpaceError(f"the metric must be one of {', '.join(METRICS)}")
        if not self.space:
            raise SpaceError("the space is empty: give at least one key=values spec")
        ranges = [p.text for p in self.space if p.is_range]
        if self.sampler == "grid" and ranges:
            raise SpaceError(
                f"{ranges[0]!r}: a grid takes lists of values, not ranges; list the values "
                "(e.g. lr=1e-3,1e-4) or sample the range with --sampler random or tpe"
            )
        if self.sampler != "grid" and not (self.trials and self.trials > 0):
            raise SpaceError(f"the {self.sampler} sampler needs a number of trials (--trials N)")
        self.base.validate()

    @property
    def direction(self) -> str:
        return METRICS[self.metric]

    def space_texts(self) -> list[str]:
        return [p.text for p in self.space]

    def shared_settings(self) -> dict[str, Any]:
        """The base settings that every worker of the study must share."""
        return {k: v for k, v in self.base.to_dict().items() if k not in self.local}

    def study_name(self) -> str:
        """The study's name: the given one, else the dataset folder's name and a hash of the
        space, sampler and base settings, so the same command run again joins (resumes) the
        same study and a changed command starts another."""
        if self.study:
            return self.study
        identity = json.dumps(
            [self.space_texts(), self.sampler, self.trials, self.metric, self.shared_settings()],
            sort_keys=True,
            default=str,
        )
        digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
        return f"{Path(self.base.data).name or 'sweep'}-{digest}"


def count_runs(spec: SweepSpec) -> int:
    """Runs the sweep makes: the grid's size (the product of the lists), else its trials."""
    if spec.sampler == "grid":
        return math.prod(p.size or 0 for p in spec.space) if spec.space else 0
    return spec.trials or 0


def grid_points(space: tuple[Param, ...]) -> list[dict[str, Value]]:
    """Every combination of the lists, the first key varying slowest (the order trials run)."""
    keys = [p.key for p in space]
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(p.values for p in space))
    ]
