"""How long planned runs will take, from the training speed of earlier runs in the workspace.

Each run's ``metrics.csv`` records the images per second of every epoch; a planned run is
estimated from the earlier runs most like it: the same backbone, the same kind of run (a
head-only run on cached features is a hundred times faster than fine-tuning, and a head-only
run with augmentation runs the frozen trunk every epoch), on the same kind of device, scaled by the input area when the size differs. With no such run the estimate is
unknown and says so: a guess from another backbone would mislead more than it helps.

Reads small files of up to :data:`MAX_RUNS` runs (config.json, metrics.csv): callers on the GUI
thread run :func:`workspace_speeds` in a background task.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gender_desktop.durations import duration_text
from gender_desktop.errors import UserError
from gender_desktop.ml.config import TrainConfig
from gender_desktop.runs.folder import RunFolder, workspace_path

MAX_RUNS = 500


@dataclass(frozen=True)
class Speed:
    """One earlier run's training speed."""

    backbone: str
    mode: str  # see run_mode
    input_size: int
    device: str  # "cpu", "cuda", "mps" or "" when unknown
    images_per_second: float


@dataclass(frozen=True)
class Estimate:
    seconds: float | None  # None: no similar run to go by
    basis: str  # what it is based on, in words

    def text(self) -> str:
        if self.seconds is None:
            return f"unknown ({self.basis})"
        return f"about {duration_text(max(self.seconds, 1), tenths=False)} ({self.basis})"


def device_kind(text: str) -> str:
    """ "cpu", "cuda" or "mps" from a device name as runs record it ("CUDA · H200", "cpu")."""
    low = text.lower()
    return next((k for k in ("cuda", "mps", "cpu") if low.startswith(k) or k in low), "")


def run_mode(config: TrainConfig) -> str:
    """ "cached head" (the trunk runs once, the head trains on its features), "head" (frozen
    trunk run every epoch: augmentation or the cache off) or "fine-tuned"."""
    if config.model.scope != "head":
        return "fine-tuned"
    cached = config.feature_cache and not config.augment.active
    return "cached head" if cached else "head"


def run_speed(folder: Path) -> Speed | None:
    """The median images per second of a run's epochs, or None (no epochs, damaged files)."""
    run = RunFolder(folder)
    try:
        config = run.train_config()
        rows = run.read_metrics()
        device = str(run.read_config().get("device", ""))
    except (UserError, OSError, ValueError):
        return None
    rates = [r["images_per_second"] for r in rows if r.get("images_per_second", 0) > 0]
    if not rates:
        return None
    return Speed(
        config.model.backbone,
        run_mode(config),
        config.model.input_size,
        device_kind(device),
        statistics.median(rates),
    )


def workspace_speeds(root: Path | None = None) -> list[Speed]:
    """The speeds of the newest :data:`MAX_RUNS` runs under ``root`` (default: the workspace)."""
    try:
        base = Path(root) if root is not None else workspace_path()
        folders = sorted((p for p in base.iterdir() if p.is_dir()), reverse=True)[:MAX_RUNS]
    except OSError:
        return []
    return [s for s in map(run_speed, folders) if s is not None]


def images_per_second(
    config: TrainConfig, speeds: Iterable[Speed], device: str = ""
) -> tuple[float, int] | None:
    """The expected speed of ``config`` and how many earlier runs it rests on."""
    like = [
        s
        for s in speeds
        if s.backbone == config.model.backbone
        and s.mode == run_mode(config)
        and (not device or not s.device or s.device == device)
    ]
    if not like:
        return None
    size = config.model.input_size
    scaled = [s.images_per_second * (s.input_size / size) ** 2 for s in like]
    return statistics.median(scaled), len(like)


def estimate(
    configs: list[TrainConfig],
    train_images: int,
    val_images: int,
    speeds: list[Speed],
    device: str = "",
) -> Estimate:
    """The total time of ``configs`` run one after another: each epoch trains on the train
    images and validates on the val images (counted at the training speed, which
    overestimates a little: validation has no backward pass)."""
    total, based_on = 0.0, 0
    for config in configs:
        rate = images_per_second(config, speeds, device)
        if rate is None:
            what = {"cached head": "head-only", "head": "augmented head-only"}.get(
                run_mode(config), "fine-tuned"
            )
            return Estimate(None, f"no earlier {what} {config.model.backbone} run to go by")
        total += config.epochs * (train_images + val_images) / max(rate[0], 1e-9)
        based_on = max(based_on, rate[1])
    basis = f"from the speed of {based_on} earlier similar run(s)"
    if any(run_mode(c) == "cached head" for c in configs):
        basis += "; plus one pass of the backbone, which head-only runs share"
    return Estimate(total, basis)


def planned_configs(spec, limit: int = 24) -> list[TrainConfig]:
    """The settings of the runs a sweep will make, for the estimate: every grid point, or for
    a sampled sweep as many seeded draws from its lists and ranges as it has trials (at most
    ``limit``, then scaled up by :func:`sweep_estimate`). Points the settings refuse are left
    out (those trials fail at once)."""
    import math
    import random

    from gender_desktop.sweeps.space import apply
    from gender_desktop.sweeps.spec import count_runs, grid_points

    if spec.sampler == "grid":
        points = grid_points(spec.space)
    else:
        rng = random.Random(spec.seed)
        points = []
        for _ in range(min(count_runs(spec), limit)):
            point = {}
            for p in spec.space:
                if not p.is_range:
                    point[p.key] = rng.choice(p.values)
                elif p.log:
                    point[p.key] = math.exp(rng.uniform(math.log(p.low), math.log(p.high)))
                else:
                    point[p.key] = rng.uniform(p.low, p.high)
                if p.is_range and p.integer:
                    point[p.key] = round(point[p.key])
            points.append(point)
    configs = []
    for point in points:
        try:
            configs.append(apply(spec.base, point))
        except (UserError, ValueError):
            continue
    return configs


def sweep_estimate(
    spec,
    train_images: int,
    val_images: int,
    speeds: list[Speed],
    device: str = "",
) -> Estimate:
    """The whole sweep's time: its planned runs' estimate, scaled to its number of runs."""
    from gender_desktop.sweeps.spec import count_runs

    configs = planned_configs(spec)
    if not configs:
        return Estimate(None, "no run of this space has valid settings")
    result = estimate(configs, train_images, val_images, speeds, device)
    if result.seconds is None:
        return result
    return Estimate(result.seconds * count_runs(spec) / len(configs), result.basis)
