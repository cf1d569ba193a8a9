"""Settings of a training run as plain dataclasses, importable without torch.

The GUI builds these on its thread at start-up; importing torch there would cost seconds and
hold the GIL. The engine modules that need torch import them from here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

BACKBONES = ("vgg16", "vgg16_bn", "resnet50", "resnet18", "mobilenet_v2")
POOLINGS = ("avg", "max", "flatten")
SCOPES = ("head", "last_block", "all")  # or "from:<block name>"


@dataclass
class ModelConfig:
    backbone: str = "vgg16"
    pooling: str = "avg"
    hidden: Sequence[int] = field(default_factory=lambda: (128,))
    dropout: float = 0.5
    scope: str = "last_block"
    input_size: int = 224

    def validate(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(
                f"backbone must be one of {', '.join(BACKBONES)}, not {self.backbone!r}"
            )
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        if any(int(h) <= 0 for h in self.hidden):
            raise ValueError("hidden layer sizes must be positive")
        if self.input_size < 32:
            raise ValueError("input size must be at least 32 pixels")
        if self.scope not in SCOPES and not self.scope.startswith("from:"):
            raise ValueError(f"scope must be one of {', '.join(SCOPES)} or from:<block>")


@dataclass
class AugmentConfig:
    """Train-split augmentation; each is off at 0 (or False)."""

    flip: bool = True
    rotation: float = 0.0  # degrees, uniform in [-rotation, rotation]
    zoom: float = 0.0  # fraction, scale uniform in [1 - zoom, 1 + zoom] (crop in / pad out)
    brightness: float = 0.0  # fraction, factor uniform in [1 - b, 1 + b]

    @property
    def active(self) -> bool:
        return self.flip or self.rotation > 0 or self.zoom > 0 or self.brightness > 0


OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "plateau")


@dataclass
class TrainConfig:
    data: str
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    weights: str = "imagenet"  # imagenet | random | file:<path> | run:<run folder>
    optimizer: str = "sgd"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 10
    schedule: str = "none"
    step_size: int = 5
    gamma: float = 0.1
    patience: int = 0  # early stopping on validation loss; 0 = off
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: bool = True  # mixed precision where the device supports it (CUDA)
    workers: int = 0  # decode processes; 0 = one per CPU core
    feature_cache: bool = True  # head only, no augmentation: run the frozen trunk once

    def validate(self) -> None:
        self.model.validate()
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        if not self.lr > 0:
            problems.append("learning rate must be positive")
        if self.batch_size < 1 or self.epochs < 1:
            problems.append("batch size and epochs must be at least 1")
        if self.step_size < 1:
            problems.append("the step schedule's step size must be at least 1 epoch")
        if not 0 < self.gamma <= 1:
            problems.append("gamma (the learning-rate factor) must be in (0, 1]")
        if self.patience < 0:
            problems.append("early-stopping patience cannot be negative")
        if not (
            self.weights in ("imagenet", "random") or self.weights.startswith(("file:", "run:"))
        ):
            problems.append("weights must be imagenet, random, file:<path> or run:<run folder>")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["model"] = ModelConfig(**data.get("model", {}))
        values["augment"] = AugmentConfig(**data.get("augment", {}))
        return cls(**values)


# torchvision's ImageNet weight files (their names carry a sha256 prefix), for saying whether a
# download is needed without importing torch.
IMAGENET_FILES = {
    "vgg16": "vgg16-397923af.pth",
    "vgg16_bn": "vgg16_bn-6c64b313.pth",
    "resnet50": "resnet50-11ad3fa6.pth",
    "resnet18": "resnet18-f37072fd.pth",
    "mobilenet_v2": "mobilenet_v2-7ebf99e0.pth",
}


def hub_checkpoint(backbone: str) -> Path:
    """Where torch hub keeps ``backbone``'s ImageNet file (torch.hub.get_dir's rules)."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
    )
    return Path(home) / "hub" / "checkpoints" / IMAGENET_FILES[backbone]
