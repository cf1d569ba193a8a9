"""Seeded, stratified train/val/test splits, stored so a dataset keeps the split it was given.

Without an official partition, a split is drawn per class (so each split keeps the class balance)
from a seeded generator over the ids in file order; the result and its spec are stored beside the
label edits, and reused as long as the set of ids is unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gender_desktop.fileio import atomic_write_bytes, atomic_write_json

SPLIT_SPEC_FILE = "split.json"
SPLIT_TABLE_FILE = "split.csv"


@dataclass(frozen=True)
class SplitSpec:
    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        parts = (self.train, self.val, self.test)
        if any(p < 0 for p in parts) or not np.isclose(sum(parts), 1.0, atol=1e-6):
            raise ValueError(f"split ratios must be >= 0 and add up to 1, got {parts}")

    def describe(self) -> str:
        pct = "/".join(f"{round(p * 100):d}" for p in (self.train, self.val, self.test))
        return f"seeded stratified {pct} (seed {self.seed})"


def stratified_split(labels: np.ndarray, spec: SplitSpec) -> np.ndarray:
    """An array of 'train'/'val'/'test', the same for the same labels and spec."""
    out = np.empty(len(labels), dtype=object)
    rng = np.random.default_rng(spec.seed)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        members = members[rng.permutation(len(members))]
        n = len(members)
        n_train = round(n * spec.train)
        n_val = round(n * spec.val)
        n_val = min(n_val, n - n_train)
        out[members[:n_train]] = "train"
        out[members[n_train : n_train + n_val]] = "val"
        out[members[n_train + n_val :]] = "test"
    return out


def load_stored(folder: Path, ids: pd.Series) -> tuple[SplitSpec, np.ndarray | None] | None:
    """The stored spec, and the stored assignment when it covers exactly ``ids``."""
    spec_file = folder / SPLIT_SPEC_FILE
    if not spec_file.exists():
        return None
    try:
        spec = SplitSpec(**json.loads(spec_file.read_text()))
    except (ValueError, TypeError):
        return None
    table_file = folder / SPLIT_TABLE_FILE
    if not table_file.exists():
        return spec, None
    try:  # ids of files whose names are not UTF-8 were written with their raw bytes
        stored = pd.read_csv(
            table_file, dtype=str, keep_default_na=False, encoding_errors="surrogateescape"
        )
    except (OSError, ValueError):  # damaged or unreadable: draw the split again
        return spec, None
    if not {"image_id", "split"} <= set(stored.columns):
        return spec, None
    if len(stored) != len(ids):
        return spec, None
    lookup = pd.Series(stored["split"].to_numpy(), index=stored["image_id"].to_numpy())
    if lookup.index.has_duplicates:
        return spec, None
    mapped = lookup.reindex(ids.to_numpy())
    if mapped.isna().any():
        return spec, None
    return spec, mapped.to_numpy(dtype=object)


def store(folder: Path, spec: SplitSpec, ids: pd.Series, splits: np.ndarray) -> None:
    atomic_write_json(folder / SPLIT_SPEC_FILE, asdict(spec))
    frame = pd.DataFrame({"image_id": ids.to_numpy(), "split": splits})
    # surrogateescape: a file name that is not valid UTF-8 is written back as its own bytes
    text = frame.to_csv(index=False)
    atomic_write_bytes(folder / SPLIT_TABLE_FILE, text.encode("utf-8", "surrogateescape"))
