"""Small, fast training configurations for the engine tests (CPU, tiny inputs, random weights)."""

from __future__ import annotations

from pathlib import Path

from gender_desktop.ml.config import AugmentConfig, ModelConfig, TrainConfig


def tiny_config(data: Path, **changes) -> TrainConfig:
    model = changes.pop("model", ModelConfig(backbone="resnet18", input_size=32, hidden=(16,)))
    augment = changes.pop("augment", AugmentConfig(flip=False))
    base = dict(
        data=str(data),
        model=model,
        augment=augment,
        weights="random",
        optimizer="adam",
        lr=1e-3,
        batch_size=16,
        epochs=2,
        workers=1,
    )
    base.update(changes)
    return TrainConfig(**base)


def train_in_own_home(root: Path, config: TrainConfig, name: str = "colours"):
    """Train ``config`` into ``root/runs`` with the app home (decode cache, label journals) in
    ``root/home``. For module and session fixtures: they run before the per-test ``app_home``
    fixture, so without this their caches would land in the user's profile.
    Returns the run folder and the training summary."""
    import pytest

    from gender_desktop.ml.trainer import Trainer
    from gender_desktop.paths import HOME_ENV
    from gender_desktop.runs.folder import RunFolder

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(root / "home"))
        run = RunFolder.create(name, root / "runs")
        return run, Trainer(config, run).run()


def head_config(data: Path, **changes) -> TrainConfig:
    """:func:`tiny_config` training the head only, without augmentation: consecutive runs in
    one process share one pass of the backbone (a head-only sweep)."""
    model = ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="head")
    return tiny_config(data, model=model, **changes)


# The train command's options for a model a CPU trains in a second (32 px ResNet18, random
# weights, a 16-unit head): the CLI and DDP tests share them.
TINY_TRAIN_ARGS = [
    "--backbone", "resnet18", "--input-size", "32", "--weights", "random", "--hidden", "16",
    "--optimizer", "adam", "--batch-size", "16", "--workers", "1", "--no-flip",
]  # fmt: skip
