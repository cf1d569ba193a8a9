"""Filters combine, and the status line states what is shown and its balance."""

from __future__ import annotations

from pathlib import Path

import builders
import numpy as np

from gender_desktop.data import open_dataset
from gender_desktop.data.filters import Filter, apply_filter, describe


def setup(tmp_path: Path):
    ds = open_dataset(builders.celeba_official(tmp_path, 100))
    male = ds.table["Male"].to_numpy()
    return ds, male, np.zeros(len(ds), dtype=bool)


def test_filters_combine(tmp_path: Path) -> None:
    ds, male, edited = setup(tmp_path)
    rows = apply_filter(ds.table, male, edited, Filter(gender="male"))
    assert len(rows) == 40
    f = Filter(gender="female", split="train").with_attribute("Eyeglasses", True)
    rows = apply_filter(ds.table, male, edited, f)
    expected = [i for i in range(80) if not builders.is_male(i) and i % 4 == 0]
    assert rows.tolist() == expected
    f = f.with_attribute("Young", False)
    assert apply_filter(ds.table, male, edited, f).tolist() == [i for i in expected if i % 2]
    assert (
        apply_filter(ds.table, male, edited, f.with_attribute("Young", None)).tolist() == expected
    )


def test_text_search_and_edited_only(tmp_path: Path) -> None:
    ds, male, edited = setup(tmp_path)
    assert apply_filter(ds.table, male, edited, Filter(text="00005")).tolist() == [
        4,
        *range(49, 59),
    ]
    edited[[3, 9]] = True
    assert apply_filter(ds.table, male, edited, Filter(edited_only=True)).tolist() == [3, 9]


def test_random_sample_is_seeded(tmp_path: Path) -> None:
    ds, male, edited = setup(tmp_path)
    a = apply_filter(ds.table, male, edited, Filter(sample=16, sample_seed=3))
    assert len(a) == 16 and len(set(a.tolist())) == 16
    assert (a == apply_filter(ds.table, male, edited, Filter(sample=16, sample_seed=3))).all()


def test_status_line_states_balance(tmp_path: Path) -> None:
    ds, male, edited = setup(tmp_path)
    f = Filter(split="test")
    rows = apply_filter(ds.table, male, edited, f)
    assert describe(f, male, rows, len(ds)) == "test: 6 female / 4 male · 10 of 100 shown"
    rows = apply_filter(ds.table, male, edited, Filter())
    assert describe(Filter(), male, rows, 100) == "all splits: 60 female / 40 male · 100 images"


def test_a_sample_keeps_its_other_images_when_one_leaves_the_filter(tmp_path: Path) -> None:
    ds, male, edited = setup(tmp_path)
    f = Filter(gender="female", sample=10, sample_seed=7)
    before = apply_filter(ds.table, male, edited, f)
    male = male.copy()
    male[before[3]] = 1  # relabeled: no longer female
    after = apply_filter(ds.table, male, edited, f)
    assert len(after) == 10
    assert len(set(before.tolist()) & set(after.tolist())) == 9
