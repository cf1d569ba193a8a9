"""Splits: seeded, stratified, adjustable, and stored so a dataset keeps its split."""

from __future__ import annotations

from pathlib import Path

import builders
import numpy as np
import pytest

from gender_desktop.data import open_dataset
from gender_desktop.data.splits import SplitSpec, stratified_split


def test_stratified_split_keeps_class_balance_and_ratios() -> None:
    labels = np.array([1] * 400 + [0] * 600)
    out = stratified_split(labels, SplitSpec())
    for name, size in (("train", 800), ("val", 100), ("test", 100)):
        mask = out == name
        assert mask.sum() == size
        assert labels[mask].mean() == pytest.approx(0.4)


def test_same_seed_same_split_other_seed_other_split() -> None:
    labels = np.array([0, 1] * 200)
    a = stratified_split(labels, SplitSpec(seed=1))
    assert (a == stratified_split(labels, SplitSpec(seed=1))).all()
    assert (a != stratified_split(labels, SplitSpec(seed=2))).any()


def test_ratios_must_add_up() -> None:
    with pytest.raises(ValueError, match="add up to 1"):
        SplitSpec(0.7, 0.2, 0.2)


def test_split_is_stored_and_reused_and_can_be_changed(tmp_path: Path) -> None:
    builders.celeba_subset(tmp_path, 100)
    first = open_dataset(tmp_path).table["split"].to_numpy()
    assert (open_dataset(tmp_path).table["split"].to_numpy() == first).all()
    changed = open_dataset(tmp_path, split_spec=SplitSpec(0.6, 0.2, 0.2, seed=7))
    assert (changed.table["split"] == "test").sum() == 20
    again = open_dataset(tmp_path)  # the stored spec now applies
    assert (again.table["split"].to_numpy() == changed.table["split"].to_numpy()).all()
    assert again.report.split_origin == "seeded stratified 60/20/20 (seed 7)"
