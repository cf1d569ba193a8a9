"""A trained run's model, rebuilt from its folder for evaluation, prediction and export.

The architecture comes from ``config.json`` (the settings the run trained with) and the weights
from ``best.pt`` (the epoch with the lowest validation loss) or, before a best exists, ``last.pt``.
Checkpoints are read with ``weights_only=True``: a run folder from elsewhere cannot run code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from gender_desktop.errors import UserError
from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.models import GenderNet
from gender_desktop.ml.pipeline import IMAGENET_MEAN, IMAGENET_STD
from gender_desktop.runs.folder import BEST, CONFIG, LAST, RunFolder


class RunUnusable(UserError):
    """The run folder cannot give a model; the message names the folder and the problem."""


@dataclass
class RunModel:
    model: GenderNet
    config: TrainConfig
    run: RunFolder
    checkpoint: str  # "best.pt" or "last.pt"
    epoch: int | None

    @property
    def input_size(self) -> int:
        return self.config.model.input_size

    def preprocessing(self) -> dict:
        """How an image must be prepared for this model (also written into exported models)."""
        size = self.input_size
        return {
            "input_size": size,
            "resize": f"shorter side to {size} px (bilinear), then centre crop {size}x{size}",
            "color": "RGB, 8-bit, EXIF orientation applied",
            "scale": "pixel / 255",
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
            "layout": "NCHW float32",
            "output": "one logit; sigmoid(logit) = probability of Male; Male if >= 0.5",
        }


def short_reason(exc: BaseException, limit: int = 160) -> str:
    """The first sentence of an exception's text, without terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip() or type(exc).__name__
    text = text.splitlines()[0]
    text = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_run_model(path: str | Path, which: str | None = None) -> RunModel:
    """The run's model in eval mode on the CPU. ``which`` is ``best.pt``/``last.pt`` or None
    (best where it exists)."""
    run = RunFolder(Path(path).expanduser())
    if not run.path.is_dir():
        raise RunUnusable(f"{run.path}: no such run folder")
    if not (run.path / CONFIG).exists():
        raise RunUnusable(f"{run.path}: not a run folder ({CONFIG} is missing)")
    try:
        settings = run.read_config()["settings"]
        config = TrainConfig.from_dict(settings)
        config.model.validate()
    except (ValueError, KeyError, TypeError) as exc:
        raise RunUnusable(f"{run.path / CONFIG}: unreadable settings ({exc})") from exc
    if which is None:
        which = BEST if run.has_checkpoint(BEST) else LAST
    if not run.has_checkpoint(which):
        if which == BEST and run.has_checkpoint(LAST):
            raise RunUnusable(f"{run.path}: has no {BEST} (use {LAST})")
        raise RunUnusable(f"{run.path}: no checkpoint yet (the run has not finished an epoch)")
    try:
        state = run.load_checkpoint(which)
    except Exception as exc:
        # torch's own text runs to paragraphs (and suggests weights_only=False, which would be
        # wrong for a damaged or foreign file): its first line is what the user needs.
        first = short_reason(exc)
        raise RunUnusable(
            f"{run.path / which}: damaged or not a gender-desktop checkpoint ({first})"
        ) from exc
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise RunUnusable(f"{run.path / which}: not a gender-desktop checkpoint (no model weights)")
    model = GenderNet(config.model)
    result = model.load_state_dict(state["model"], strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise RunUnusable(
            f"{run.path / which}: does not fit the run's settings "
            f"({len(result.missing_keys)} tensors missing, {len(result.unexpected_keys)} "
            "unexpected)"
        )
    model.eval()
    epoch = state.get("epoch")
    return RunModel(model, config, run, which, epoch if isinstance(epoch, int) else None)


def to_device(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Channels-last on CUDA: the layout its convolution kernels are fastest in."""
    if device.type == "cuda":
        return model.to(device, memory_format=torch.channels_last)
    return model.to(device)
