"""The demo dataset: generated offline, marked synthetic, and learnable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from gender_desktop.data import open_dataset
from gender_desktop.data.demo import generate


def test_demo_opens_as_celeba_and_is_marked_synthetic(tmp_path: Path) -> None:
    root = generate(tmp_path / "demo", count=60)
    ds = open_dataset(root)
    assert ds.layout == "celeba-official" and len(ds) == 60 and ds.is_demo
    assert 15 < ds.summary()["male"] < 45
    assert ds.table["Eyeglasses"].any() and ds.table["Smiling"].any()


def test_demo_faces_carry_a_learnable_gender_signal(tmp_path: Path) -> None:
    """A linear model on 16x16 pixels already beats chance by far, so a CNN will learn it."""
    ds = open_dataset(generate(tmp_path / "demo", count=500))
    x = np.stack(
        [
            np.asarray(Image.open(ds.images.path(p)).resize((16, 20)), dtype=np.float32).ravel()
            for p in ds.table["path"]
        ]
    )
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    x = np.hstack([x, np.ones((len(x), 1))])
    y = ds.table["Male"].to_numpy() * 2.0 - 1
    train = (ds.table["split"] == "train").to_numpy()
    w = np.linalg.solve(x[train].T @ x[train] + 50 * np.eye(x.shape[1]), x[train].T @ y[train])
    accuracy = ((x[~train] @ w > 0) == (y[~train] > 0)).mean()
    assert accuracy > 0.75
