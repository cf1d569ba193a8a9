"""Settings of a training run as plain dataclasses, importable without torch.

The GUI builds these on its thread at start-up; importing torch there would cost seconds and
hold the GIL. The engine modules that need torch import them from here.

Settings also come back from a run folder's ``config.json``, which may be damaged or crafted:
:meth:`TrainConfig.from_dict` checks every value's type and :meth:`TrainConfig.validate` its
range, so a hidden layer of 10^12 units or a 20,000 px input is refused before anything is
allocated for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gender_desktop.errors import UserError
from gender_desktop.ml import backbones

MAX_LR = 1e6  # far above any useful rate; 1e308 overflowed inside the optimizer


class ConfigError(UserError, ValueError):
    """A setting has the wrong type or is out of range; the message names the setting.
    (Also a ValueError: callers that validate a form catch that.)"""


BACKBONES = backbones.NAMES
POOLINGS = ("avg", "max", "flatten")
SCOPES = ("head", "last_block", "all")  # or "from:<block name>"
# Upper bounds: far above any sensible run, low enough that nothing allocates absurd memory.
MAX_INPUT_SIZE = 1024
MAX_HIDDEN_UNITS = 65_536
MAX_HIDDEN_LAYERS = 8
AUTO_BATCH_CAP = 2048  # the automatic batch size stops doubling here
MAX_HEAD_PARAMETERS = 300_000_000  # VGG's classic 25088-4096-4096 head is 120 million


@dataclass
class ModelConfig:
    backbone: str = "vgg16"
    pooling: str = "avg"
    hidden: Sequence[int] = field(default_factory=lambda: (128,))
    dropout: float = 0.5
    scope: str = "last_block"
    input_size: int = 224

    def validate(self) -> None:
        _check_types(self, "model")
        if self.backbone not in BACKBONES:
            raise ConfigError(
                f"backbone must be one of {', '.join(BACKBONES)}, not {self.backbone!r}"
            )
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("dropout must be in [0, 1)")
        if len(self.hidden) > MAX_HIDDEN_LAYERS:
            raise ConfigError(f"the head can have at most {MAX_HIDDEN_LAYERS} hidden layers")
        if any(not 0 < h <= MAX_HIDDEN_UNITS for h in self.hidden):
            raise ConfigError(f"hidden layer sizes must be between 1 and {MAX_HIDDEN_UNITS:,}")
        low = backbones.get(self.backbone).min_input_size
        if not low <= self.input_size <= MAX_INPUT_SIZE:
            raise ConfigError(
                f"input size must be between {low} and {MAX_INPUT_SIZE} pixels for {self.backbone}"
            )
        if self.scope not in SCOPES and not self.scope.startswith("from:"):
            raise ConfigError(f"scope must be one of {', '.join(SCOPES)} or from:<block>")
        if self.head_parameters() > MAX_HEAD_PARAMETERS:
            raise ConfigError(
                f"the head would have {self.head_parameters():,} parameters (at most "
                f"{MAX_HEAD_PARAMETERS:,}): use smaller hidden layers, average pooling or a "
                "smaller input size"
            )

    def head_parameters(self) -> int:
        """The head's parameter count, from the trunk's output (flatten: channels times the
        final feature map's area, from the backbone table)."""
        entry = backbones.get(self.backbone)
        width = entry.feature_size
        if self.pooling == "flatten":
            width = entry.flat_features(self.input_size)
        total = 0
        for units in (*self.hidden, 1):
            total += (width + 1) * units
            width = units
        return total


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
# The optimizers that use ``momentum``: Adam and AdamW keep their own moving averages (betas),
# so the Train form greys momentum out for them.
MOMENTUM_OPTIMIZERS = ("sgd",)
SCHEDULES = ("none", "step", "cosine", "plateau")
FIT_ON = ("train", "train+val")
BEST_METRICS = ("val_loss", "val_accuracy")
# Mixed-precision dtypes (ml/runtime.precision decides what each means on each device):
# auto = bf16 on GPUs that have it natively, else fp16 with a grad scaler; fp32 on CPU.
AMP_DTYPES = ("auto", "bf16", "fp16")
# Test-time augmentation at prediction (ml/predictor.py), mode -> what it does; the CLI's
# ``predict --tta`` reads it. Each view is one forward pass; the probabilities are averaged.
TTA_MODES = {
    "none": "the image once",
    "flip": "the image and its mirror (2 passes)",
    "ten_crop": "Levi & Hassner's oversampling: 4 corners + centre of a 256/224 enlargement, "
    "and their mirrors (10 passes)",
}
TTA_LABELS = {"none": "None", "flip": "Flip", "ten_crop": "Ten-crop"}  # the Predict panel's words
DEFAULT_TTA = "none"  # off by default: a few images in a hundred either way, for 2-10x the time
# How a photo is turned into the model's input (ml/framing.py, ml/predictor.py), mode -> what it
# does; ``predict --framing`` and the Predict panel's Framing menu read it. "auto" is the default:
# a photo from elsewhere rarely looks like a training image, and a dataset image is found to be
# framed already and left as it is (its p_male is its evaluation's).
FRAMING_MODES = {
    "auto": "find faces and frame each as the run's training images were (one row per face); "
    "an image already framed that way is left as it is, one without a face is predicted whole",
    "faces": "as auto, but an image without a face gives the row error 'no face found'",
    "off": "the whole image as it is (shorter side to the input size, centre square)",
}
FRAMING_LABELS = {"auto": "Auto", "faces": "Faces only", "off": "Off"}
DEFAULT_FRAMING = "auto"
DEFAULT_SETTING = (DEFAULT_FRAMING, DEFAULT_TTA)  # the Predict panel's (framing, tta) at first


def choice(
    value: str, table: Mapping[str, str], what: str, error: type[UserError] = UserError
) -> str:
    """``value`` when it is one of ``table``'s keys (FRAMING_MODES, TTA_MODES): the one check
    of a mode the engine, the CLI and the Predict panel pass on; else ``error`` naming them."""
    if value not in table:
        raise error(f"unknown {what} {value!r}: choose one of {', '.join(table)}")
    return value


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
    patience: int = 0  # early stopping: epochs without a better best_metric; 0 = off
    best_metric: str = "val_loss"  # which epoch best.pt keeps: val_loss (lowest) | val_accuracy
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: bool = True  # mixed precision where the device supports it (CUDA)
    amp_dtype: str = "auto"  # auto | bf16 | fp16 (fp16 forces the grad scaler, even on bf16 GPUs)
    # torch.compile the model before training: off until measured faster on a GPU (the first
    # steps pay the compilation, seconds to a minute).
    compile: bool = False
    # Probe the largest batch that fits (doubling real forward+backward steps until out of
    # memory or AUTO_BATCH_CAP) and train with it; config.json records the size chosen.
    auto_batch_size: bool = False
    workers: int = 0  # decode processes; 0 = one per CPU core
    feature_cache: bool = True  # head only, no augmentation: run the frozen trunk once
    # Under DDP (several processes): BatchNorm statistics over the whole global batch
    # (SyncBatchNorm, CUDA only); ignored by a single process, which sees the whole batch.
    sync_bn: bool = False
    # "train": fit on the train split, pick the best epoch on val. "train+val": fit on both
    # (a sweep's winner retrained for its one test evaluation): val is no longer held out, so
    # the last epoch is the one kept and early stopping is off.
    fit_on: str = "train"
    # Cross-validation: "" trains on the dataset's own split; "2/5:stratified@0" trains fold 2
    # of 5 (see gender_desktop.data.folds, the one reader of the spec): val is that fold of the
    # train+val images, train the other folds, and the test split is untouched.
    fold: str = ""

    def validate(self) -> None:
        _check_types(self, "")
        _check_types(self.augment, "augment")
        self.model.validate()
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        if not 0 < self.lr <= MAX_LR:
            problems.append(f"learning rate must be positive and at most {MAX_LR:g}")
        if not 0 <= self.momentum < 1:
            problems.append("momentum must be in [0, 1)")
        if not 0 <= self.weight_decay <= 10:
            problems.append("weight decay must be between 0 and 10")
        if not (1 <= self.batch_size <= 65_536 and 1 <= self.epochs <= 100_000):
            problems.append(
                "batch size and epochs must be at least 1 (and at most 65,536 / 100,000)"
            )
        if not 1 <= self.step_size <= 100_000:
            problems.append("the step schedule's step size must be at least 1 epoch")
        if not 0 < self.gamma <= 1:
            problems.append("gamma (the learning-rate factor) must be in (0, 1]")
        if not 0 <= self.patience <= 100_000:
            problems.append("early-stopping patience cannot be negative")
        if not 0 <= self.seed < 2**32:
            problems.append("the seed must be a whole number from 0 to 4,294,967,295")
        if self.amp_dtype not in AMP_DTYPES:
            problems.append(f"amp_dtype must be one of {', '.join(AMP_DTYPES)}")
        if self.best_metric not in BEST_METRICS:
            problems.append(f"best_metric must be one of {', '.join(BEST_METRICS)}")
        if self.fit_on not in FIT_ON:
            problems.append(f"fit_on must be one of {', '.join(FIT_ON)}")
        if self.fold:
            from gender_desktop.data.folds import FoldError, parse_fold

            try:
                parse_fold(self.fold)
            except FoldError as exc:
                problems.append(str(exc))
        if self.sync_bn and self.device not in ("auto", "cuda"):
            problems.append(
                "synchronised BatchNorm needs CUDA GPUs (SyncBatchNorm has no CPU or MPS "
                "implementation): use --device cuda or leave --sync-bn out"
            )
        if self.sync_bn and self.auto_batch_size:  # the probe would sync with probes elsewhere
            problems.append(
                "the largest batch that fits cannot be probed with synchronised BatchNorm (each "
                "GPU's probe would wait on the others'): give a batch size with --sync-bn"
            )
        if not 0 <= self.workers <= 1024:
            problems.append("decode workers must be between 0 (one per core) and 1024")
        a = self.augment
        if not (0 <= a.rotation <= 180 and 0 <= a.zoom < 1 and 0 <= a.brightness <= 1):
            problems.append(
                "augmentation: rotation must be 0-180 degrees, zoom in [0, 1), brightness 0-1"
            )
        if not (
            self.weights in ("imagenet", "random") or self.weights.startswith(("file:", "run:"))
        ):
            problems.append("weights must be imagenet, random, file:<path> or run:<run folder>")
        entry = backbones.get(self.model.backbone)
        if self.weights == "imagenet" and not entry.pretrained:
            problems.append(
                f"{entry.title} has no ImageNet weights: start it from random weights (or from "
                "a previous run of it, run:<run folder>)"
            )
        if problems:
            raise ConfigError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        """Settings saved by :meth:`to_dict` (a run's ``config.json``), each value checked for
        its type: a damaged or crafted file raises :class:`ConfigError` naming the setting.
        Unknown keys are ignored and missing ones take their defaults (runs of older versions
        lack newer settings), except ``data``, which has none."""
        values = _known_values(cls, data, "settings")
        if "data" not in values:
            raise ConfigError("the settings have no data (the dataset the run trained on)")
        values["model"] = ModelConfig(**_known_values(ModelConfig, data.get("model", {}), "model"))
        values["augment"] = AugmentConfig(
            **_known_values(AugmentConfig, data.get("augment", {}), "augment")
        )
        config = cls(**values)
        _check_types(config, "")
        _check_types(config.model, "model")
        _check_types(config.augment, "augment")
        return config


def _known_values(cls: type, data: Any, where: str) -> dict[str, Any]:
    """The entries of ``data`` that are fields of ``cls`` (``data`` must be a JSON object)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a JSON object, not {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in known}
    if "hidden" in values and isinstance(values["hidden"], list):
        values["hidden"] = tuple(values["hidden"])
    return values


def _check_types(config: Any, where: str) -> None:
    """Every field of a settings dataclass holds its declared kind of value: bool, int (not a
    bool), a finite float (an int is fine), str, or hidden's sequence of ints. The kind is the
    default's (``data`` has none: a str)."""
    for f in fields(config):
        value = getattr(config, f.name)
        name = f"{where}.{f.name}" if where else f.name
        default = f.default if f.default is not MISSING else None
        if f.default_factory is not MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        if f.name == "hidden":
            if not isinstance(value, list | tuple) or not all(_is_int(h) for h in value):
                raise ConfigError(f"{name} must be a list of whole numbers, not {value!r:.60}")
        elif isinstance(default, ModelConfig | AugmentConfig):
            if not isinstance(value, type(default)):
                raise ConfigError(f"{name} must be a JSON object")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, not {value!r:.60}")
        elif isinstance(default, int):
            if not _is_int(value):
                raise ConfigError(f"{name} must be a whole number, not {value!r:.60}")
        elif isinstance(default, float):
            if _is_int(value):
                value = float(value)
                setattr(config, f.name, value)
            if not isinstance(value, float) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a number, not {value!r:.60}")
        elif (default is None or isinstance(default, str)) and not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, not {value!r:.60}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def hub_checkpoint(backbone: str) -> Path | None:
    """Where torch hub keeps ``backbone``'s ImageNet file (None: it has none)."""
    return backbones.hub_checkpoint(backbone)
