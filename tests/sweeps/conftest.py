"""Tiny real sweeps: the colour dataset (red male, blue female), resnet18 at 32 px from random
weights, a few seconds per trial on a CPU."""

from __future__ import annotations

from pathlib import Path

import builders
import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture
def colour_data(tmp_path: Path) -> Path:
    """80 images: red ones male, blue ones female (trivially learnable)."""
    return builders.celeba_official(tmp_path / "colours", 80)
