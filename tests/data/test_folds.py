"""Cross-validation folds (data/folds.py): stratified, identity-disjoint and Adience's own,
over the train+val images only, deterministic from the seed."""

from __future__ import annotations

from pathlib import Path

import builders
import numpy as np
import pandas as pd
import pytest

from gender_desktop.data.dataset import open_dataset
from gender_desktop.data.folds import (
    FoldError,
    FoldSpec,
    auto_method,
    fold_numbers,
    fold_split,
    parse_fold,
)
from gender_desktop.ml.config import ConfigError, TrainConfig


def _table(n: int = 103, males: int = 41, test: int = 17, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    male = np.zeros(n, dtype=np.int8)
    male[rng.choice(n, males, replace=False)] = 1
    split = np.array(["train"] * n, dtype=object)
    split[rng.choice(n, test, replace=False)] = "test"
    return pd.DataFrame({"image_id": [f"{i}.jpg" for i in range(n)], "Male": male, "split": split})


def test_fold_specs_are_read_and_checked_in_one_place() -> None:
    assert parse_fold("2/5:stratified@7") == FoldSpec(2, 5, "stratified", 7)
    assert str(parse_fold("1/5:identity")) == "1/5:identity@0"
    assert str(parse_fold("0/4:adience")) == "0/4:adience"
    for bad, words in [
        ("5/5:stratified@0", "out of range"),
        ("1/1:stratified@0", "between 2 and"),
        ("0/5:random@0", "must be one of"),
        ("two of five", "is not of the form"),
    ]:
        with pytest.raises(FoldError, match=words):
            parse_fold(bad)
    with pytest.raises(ConfigError, match="out of range"):
        TrainConfig(data="x", fold="7/5:stratified@0").validate()
    TrainConfig(data="x", fold="4/5:stratified@0").validate()


@pytest.mark.parametrize("folds", [3, 5, 7])
def test_stratified_folds_keep_the_male_share_and_never_move_test_rows(folds: int) -> None:
    table = _table()
    held = table["split"] != "test"
    numbers = fold_numbers(table, folds, "stratified", seed=1)
    assert (numbers[~held] == -1).all()
    share = table.loc[held, "Male"].mean()
    sizes = [int((numbers == f).sum()) for f in range(folds)]
    assert sum(sizes) == int(held.sum()) and max(sizes) - min(sizes) <= 1
    for f in range(folds):
        males = int(table["Male"].to_numpy()[numbers == f].sum())
        assert abs(males - share * sizes[f]) <= 1, (f, males, share * sizes[f])
    for f in range(folds):
        split = fold_split(table, FoldSpec(f, folds, "stratified", 1))
        assert list(split[~held]) == ["test"] * int((~held).sum())
        assert (split[held.to_numpy()] == "val").sum() == sizes[f]
        assert set(np.flatnonzero(split == "val")) == set(np.flatnonzero(numbers == f))
    assert (fold_numbers(table, folds, "stratified", seed=1) == numbers).all()  # deterministic
    assert not (fold_numbers(table, folds, "stratified", seed=2) == numbers).all()


def test_identity_folds_put_each_person_in_one_fold(tmp_path: Path) -> None:
    root = builders.celeba_official(tmp_path / "celeba", 90)
    names = builders.celeba_names(90)
    # 23 people with 1 to 7 images each; the last 4 images are not listed (a group each).
    lines = [f"{name} {100 + (i * 7) % 23}" for i, name in enumerate(names[:-4])]
    (root / "identity_CelebA.txt").write_text("\n".join(lines) + "\n")
    table = open_dataset(str(root)).table
    assert auto_method(table) == "identity"
    numbers = fold_numbers(table, 4, "identity", seed=0)
    held = table["split"].to_numpy() != "test"
    assert (numbers[~held] == -1).all() and (numbers[held] >= 0).all()
    known = table["identity"].notna().to_numpy() & held
    per_person = pd.Series(numbers[known]).groupby(table["identity"].to_numpy()[known]).nunique()
    assert (per_person == 1).all() and len(per_person) == 23
    sizes = np.bincount(numbers[held], minlength=4)
    assert sizes.min() > 0 and sizes.max() - sizes.min() <= 7  # at most one person apart
    with pytest.raises(FoldError, match="identities among the train\\+val images cannot fill"):
        fold_numbers(table.assign(identity=1), 4, "identity")


def test_identity_folds_need_identities(tmp_path: Path) -> None:
    table = open_dataset(str(builders.celeba_official(tmp_path / "celeba", 30))).table
    assert auto_method(table) == "stratified"
    with pytest.raises(FoldError, match=r"identity_CelebA\.txt"):
        fold_numbers(table, 3, "identity")


def test_adience_folds_are_used_as_given(tmp_path: Path) -> None:
    table = open_dataset(str(builders.adience(tmp_path / "adience", per_fold=5))).table
    assert auto_method(table) == "adience"
    numbers = fold_numbers(table, 4, "adience")
    given = table["fold"].to_numpy()
    test = table["split"].to_numpy() == "test"
    assert (given[test] == 4).all() and (numbers[test] == -1).all()
    assert (numbers[~test] == given[~test]).all()  # folds 0-3 are folds 0-3
    split = fold_split(table, "2/4:adience")
    assert set(table["image_id"][split == "val"]) == set(table["image_id"][given == 2])
    with pytest.raises(FoldError, match=r"span 4 of its folds .*use 4 folds"):
        fold_numbers(table, 5, "adience")
