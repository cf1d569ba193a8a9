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
