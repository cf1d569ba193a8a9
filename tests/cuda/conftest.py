"""The CUDA tests' data: they run only on a GPU machine (``pytest -m cuda``, run by
benchmarks/gpu_check.sh), where nothing but the Qt-free core is installed."""

from __future__ import annotations

from pathlib import Path

import builders
import pytest

from gender_desktop.data.demo import generate


@pytest.fixture
def colour_data(tmp_path: Path) -> Path:
    """80 images: red ones male, blue ones female (trivially learnable)."""
    return builders.celeba_official(tmp_path / "colours", 80)


@pytest.fixture
def faces(tmp_path: Path) -> Path:
    """160 synthetic faces (varied pixels: realistic gradient magnitudes for fp16)."""
    return generate(tmp_path / "faces", count=160)
