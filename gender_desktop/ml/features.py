"""Frozen-backbone features: computed once per run, and shared between runs in one process.

A head-only run without augmentation trains its head on the same trunk outputs every epoch,
so the trunk runs once over the train and val images (:func:`compute_features`) and the head
trains on the stored vectors. :func:`feature_key` names everything those vectors depend on, so
a sweep's trials (see :class:`~gender_desktop.ml.inputs.SharedInputs`) reuse them exactly when
they would compute the same numbers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gender_desktop.data.dataset import Dataset
from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.models import GenderNet
from gender_desktop.ml.pipeline import DecodedImages, DeviceBatcher, forward_rows
from gender_desktop.runs.folder import BEST, LAST


class CachedFeatures:
    """Backbone features of the rows that training uses, in one compact device tensor."""

    def __init__(
        self, n_rows: int, rows: np.ndarray, size: int, device: torch.device, dtype: torch.dtype
    ) -> None:
        self.slot = torch.full((n_rows,), -1, dtype=torch.long, device=device)
        self.slot[torch.from_numpy(rows).to(device)] = torch.arange(len(rows), device=device)
        self.values = torch.empty(len(rows), size, dtype=dtype, device=device)

    def store(self, rows: np.ndarray, values: torch.Tensor) -> None:
        index = self.slot[torch.from_numpy(rows).to(self.slot.device)]
        self.values[index] = values.to(self.values.dtype)

    def covers(self, index: torch.Tensor) -> bool:
        """Whether every row of ``index`` has stored features."""
        return bool((self.slot[index] >= 0).all())

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        return self.values[self.slot[index]].float()


def compute_features(
    model: GenderNet,
    batcher: DeviceBatcher,
    n_rows: int,
    needed: np.ndarray,
    batch_size: int,
    amp: bool,
    cancel: threading.Event | None,
    progress: Callable[[int, int, str], None] | None,
) -> CachedFeatures:
    """The trunk's features of the ``needed`` rows (fp16 on CUDA, to halve the memory)."""
    from gender_desktop.ml.trainer import TrainingFailed  # the trainer imports this module

    device = batcher.device
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    try:
        cache = CachedFeatures(n_rows, needed, model.feature_size, device, dtype)
    except torch.cuda.OutOfMemoryError as exc:
        raise TrainingFailed(
            f"the cached features of {len(needed):,} images do not fit in GPU memory; use "
            "average pooling instead of flatten, a smaller input size, or turn the feature "
            "cache off"
        ) from exc
    model.eval()
    for rows, _place, features in forward_rows(
        model.features,
        batcher,
        needed,
        batch_size,
        amp,
        cancel,
        progress,
        "Computing backbone features once",
    ):
        cache.store(rows, features)
    return cache


def feature_key(
    config: TrainConfig, dataset: Dataset, rows: np.ndarray, device: torch.device
) -> tuple:
    """Everything the features depend on: the images, the trunk and its weights, the rows."""
    m = config.model
    return (
        dataset.fingerprint,
        DecodedImages.cache_key(dataset, m.input_size),
        m.backbone,
        m.pooling,
        m.input_size,
        config.weights,
        config.seed if config.weights == "random" else None,  # random trunks differ by seed
        _weights_stamp(config.weights),
        np.sort(rows).tobytes(),  # the same images in another order: the same features
        str(device),
        config.amp,
    )


def _weights_stamp(source: str) -> tuple[int, int] | None:
    """A local weights file's (or a run's best checkpoint's) size and mtime: the same path
    with new contents is another trunk."""
    if not source.startswith(("file:", "run:")):
        return None
    path = Path(source.split(":", 1)[1]).expanduser()
    if source.startswith("run:"):
        path = path / (BEST if (path / BEST).exists() else LAST)
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)
