"""k-fold cross-validation splits of a dataset's train+val images (the test split never moves).

A fold is named by a short spec stored in a run's settings (``TrainConfig.fold``), so the run
folder of fold 2 of 5 is an ordinary run that resumes and re-evaluates on the same images:

- ``"2/5:stratified@0"``: the train+val images dealt into 5 folds per class (each fold keeps the
  Male share within one image), seeded by 0;
- ``"1/5:identity@0"``: whole identities per fold (CelebA's ``identity_CelebA.txt``): no person
  is in two folds, so a fold is not scored on faces the model trained on;
- ``"0/4:adience"``: Adience's own subject-exclusive folds (the ``fold`` column), as given.

Fold ``i`` validates on fold ``i`` and trains on the others; test rows stay ``test``. Everything
is deterministic from the table and the spec (numpy's seeded generator), so a resumed fold run
gets the same images. Stratification reads the labels of the table it is given (the label edits
applied), so editing labels between two folds of one group reshuffles the stratified folds.

Not to be confused with :mod:`gender_desktop.ml.crossval`, which scores a trained run's own train
images out-of-fold to find label errors; this module is the cross-validation of a configuration
(:mod:`gender_desktop.ml.cross_validation` trains one run per fold).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gender_desktop.errors import UserError

METHODS = ("stratified", "identity", "adience")
AUTO = "auto"
MAX_FOLDS = 100
_SPEC = re.compile(r"^(\d+)/(\d+):([a-z]+)(?:@(\d+))?$")


class FoldError(UserError, ValueError):
    """A fold spec that cannot be read, or one that the dataset cannot satisfy."""


@dataclass(frozen=True)
class FoldSpec:
    index: int  # the fold validated on, 0-based
    folds: int
    method: str  # one of METHODS
    seed: int = 0  # unused by adience (its folds are given)

    def __str__(self) -> str:
        base = f"{self.index}/{self.folds}:{self.method}"
        return base if self.method == "adience" else f"{base}@{self.seed}"

    def with_index(self, index: int) -> FoldSpec:
        return FoldSpec(index, self.folds, self.method, self.seed)


def parse_fold(text: str) -> FoldSpec:
    """The one reader of fold specs (``"i/k:method@seed"``); raises :class:`FoldError`."""
    match = _SPEC.match(text.strip())
    if not match:
        raise FoldError(
            f"fold {text!r:.60} is not of the form i/k:method@seed (e.g. 2/5:stratified@0, "
            "1/5:identity@0, 0/4:adience)"
        )
    index, folds, method, seed = match.groups()
    spec = FoldSpec(int(index), int(folds), method, int(seed or 0))
    if method not in METHODS:
        raise FoldError(f"fold method must be one of {', '.join(METHODS)}, not {method!r}")
    if not 2 <= spec.folds <= MAX_FOLDS:
        raise FoldError(f"the number of folds must be between 2 and {MAX_FOLDS}, not {folds}")
    if not 0 <= spec.index < spec.folds:
        raise FoldError(f"fold index {index} is out of range for {folds} folds (0 to {folds}-1)")
    if spec.seed >= 2**32:
        raise FoldError("the fold seed must be below 4,294,967,296")
    return spec


def auto_method(table: pd.DataFrame) -> str:
    """The method a dataset calls for: its own folds (Adience), else whole identities when it
    lists them, else stratified by Male."""
    if "fold" in table:
        return "adience"
    if "identity" in table and table["identity"].notna().any():
        return "identity"
    return "stratified"


def adience_folds(table: pd.DataFrame) -> list[int]:
    """The Adience folds that hold train+val images (the test split's fold is not one)."""
    held = table["split"].astype(str).to_numpy() != "test"
    return sorted(int(f) for f in pd.unique(table["fold"].to_numpy()[held]))


def fold_numbers(table: pd.DataFrame, folds: int, method: str, seed: int = 0) -> np.ndarray:
    """Each row's fold (0 to folds-1), -1 for the test split's rows."""
    if method not in METHODS:
        raise FoldError(f"fold method must be one of {', '.join(METHODS)}, not {method!r}")
    split = table["split"].astype(str).to_numpy()
    held = np.flatnonzero(split != "test")
    if not 2 <= folds <= min(MAX_FOLDS, max(len(held), 2)):
        raise FoldError(
            f"{folds} folds of {len(held):,} train+val images: use 2 to "
            f"{min(MAX_FOLDS, len(held))} folds"
        )
    out = np.full(len(table), -1, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if method == "stratified":
        out[held] = _stratified(table["Male"].to_numpy()[held], folds, rng)
    elif method == "identity":
        out[held] = _by_identity(_identity_groups(table, held), folds, rng)
    else:
        out[held] = _adience(table, held, folds)
    return out


def fold_split(table: pd.DataFrame, spec: str | FoldSpec) -> np.ndarray:
    """'train'/'val'/'test' per row for fold ``spec``: its fold is val, the other folds train,
    the test split stays test."""
    spec = parse_fold(spec) if isinstance(spec, str) else spec
    numbers = fold_numbers(table, spec.folds, spec.method, spec.seed)
    out = np.where(numbers == spec.index, "val", "train").astype(object)
    out[numbers < 0] = "test"
    return out


def _stratified(labels: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Deal each class, shuffled, round-robin into the folds, continuing where the previous
    class stopped: fold sizes differ by at most one and so do their class counts."""
    out = np.empty(len(labels), dtype=np.int64)
    position = 0
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        members = members[rng.permutation(len(members))]
        out[members] = (position + np.arange(len(members))) % folds
        position += len(members)
    return out


def _identity_groups(table: pd.DataFrame, held: np.ndarray) -> np.ndarray:
    """A group code per train+val row; an image without an identity is a group of its own."""
    if "identity" not in table:
        raise FoldError(
            "identity-disjoint folds need the dataset's identities (CelebA's "
            "identity_CelebA.txt beside list_attr_celeba.txt); this dataset has none"
        )
    ident = table["identity"].to_numpy()[held]
    known = pd.notna(ident)
    codes = np.empty(len(held), dtype=np.int64)
    codes[known] = pd.factorize(pd.Series(ident[known]).astype(str))[0]
    start = codes[known].max() + 1 if known.any() else 0
    codes[~known] = start + np.arange(int((~known).sum()))
    return codes


def _by_identity(groups: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Whole groups per fold: the groups in a seeded order, largest first, each to the fold
    with the fewest images so far (the usual greedy group k-fold), so fold sizes stay close."""
    sizes = np.bincount(groups)
    if (sizes > 0).sum() < folds:
        raise FoldError(
            f"{int((sizes > 0).sum())} identities among the train+val images cannot fill "
            f"{folds} identity-disjoint folds"
        )
    order = rng.permutation(len(sizes))
    order = order[np.argsort(-sizes[order], kind="stable")]
    group_fold = np.zeros(len(sizes), dtype=np.int64)
    filled = np.zeros(folds, dtype=np.int64)
    for g in order:
        if sizes[g] == 0:
            continue
        target = int(np.argmin(filled))
        group_fold[g] = target
        filled[target] += sizes[g]
    return group_fold[groups]


def _adience(table: pd.DataFrame, held: np.ndarray, folds: int) -> np.ndarray:
    if "fold" not in table:
        raise FoldError("Adience folds need an Adience dataset (its fold_N_data.txt files)")
    given = adience_folds(table)
    if len(given) != folds:
        raise FoldError(
            f"this Adience dataset's train+val images span {len(given)} of its folds "
            f"({', '.join(map(str, given))}; the test split is held out): use {len(given)} folds"
        )
    lookup = {f: i for i, f in enumerate(given)}
    return np.array([lookup[int(f)] for f in table["fold"].to_numpy()[held]], dtype=np.int64)
