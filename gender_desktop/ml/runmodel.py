"""A trained run's model, rebuilt from its folder for evaluation, prediction and export.

The architecture comes from ``config.json`` (the settings the run trained with) and the weights
from ``best.pt`` (the epoch with the lowest validation loss) or, before a best exists, ``last.pt``.
Checkpoints are read with ``weights_only=True``: a run folder from elsewhere cannot run code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from gender_desktop.errors import UserError
from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.models import GenderNet
from gender_desktop.ml.pipeline import IMAGENET_MEAN, IMAGENET_STD
from gender_desktop.runs.folder import BEST, CONFIG, LAST, RunFolder, RunUnusable

__all__ = ["RunModel", "RunUnusable", "fit_state_dict", "load_run_model", "to_device"]


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


def load_run_model(path: str | Path, which: str | None = None) -> RunModel:
    """The run's model in eval mode on the CPU. ``which`` is ``best.pt``/``last.pt`` or None
    (best where it exists). Every problem of the folder raises :class:`RunUnusable` naming the
    file: settings checked before the model is built, the checkpoint before it is applied."""
    run = RunFolder(Path(path).expanduser())
    if not run.path.is_dir():
        raise RunUnusable(f"{run.path}: no such run folder")
    config = run.train_config()
    if which is None:
        which = BEST if run.has_checkpoint(BEST) else LAST
    if not run.has_checkpoint(which):
        if which == BEST and run.has_checkpoint(LAST):
            raise RunUnusable(f"{run.path}: has no {BEST} (use {LAST})")
        raise RunUnusable(f"{run.path}: no checkpoint yet (the run has not finished an epoch)")
    state = run.load_checkpoint(which)
    model = GenderNet(config.model)
    fit_state_dict(model, state["model"], run.path / which, config)
    model.eval()
    epoch = state.get("epoch")
    return RunModel(model, config, run, which, epoch if isinstance(epoch, int) else None)


def fit_state_dict(
    model: torch.nn.Module,
    state: dict[str, torch.Tensor],
    file: Path,
    config: TrainConfig,
    error: type[UserError] = RunUnusable,
) -> None:
    """Load ``state`` into ``model`` if every tensor is there with its shape; otherwise raise
    ``error`` saying that the checkpoint does not fit the run's settings (another backbone, head
    or input size than config.json says), with the first tensor that differs."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    differ = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or differ:
        m = config.model
        hidden = ",".join(str(h) for h in m.hidden) or "none"
        settings = f"{m.backbone}, {m.pooling} pooling, hidden {hidden}, {m.input_size} px"
        if differ:
            k = differ[0]
            example = (
                f"{k} is {_shape(state[k])} in the file but {_shape(own[k])} for those settings"
            )
        else:
            example = f"{(missing or unexpected)[0]} is {'missing' if missing else 'unexpected'}"
        raise error(
            f"does not fit the run's settings in {CONFIG} ({settings}): {example}; "
            f"{len(differ)} tensors differ in shape, {len(missing)} missing, "
            f"{len(unexpected)} unexpected. The checkpoint belongs to another model.",
            file=file,
        )
    model.load_state_dict(state)


def _shape(tensor: torch.Tensor) -> str:
    return "×".join(str(n) for n in tensor.shape) or "a scalar"


def to_device(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Channels-last on CUDA: the layout its convolution kernels are fastest in."""
    if device.type == "cuda":
        return model.to(device, memory_format=torch.channels_last)
    return model.to(device)
