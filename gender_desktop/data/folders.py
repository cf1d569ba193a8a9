"""Folder per class: ``male/`` and ``female/`` (also men/women, man/woman, any case), optionally
inside ``train/``, ``val/``, ``test/`` folders that then give the split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gender_desktop.data.parsed import Parsed
from gender_desktop.data.sources import Source
from gender_desktop.data.splits import SplitSpec, stratified_split

CLASS_NAMES = {"male": 1, "men": 1, "man": 1, "female": 0, "women": 0, "woman": 0}
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
VAL_FROM_TRAIN = 0.1


def classify(rel: str) -> tuple[int, str | None] | None:
    """(Male, split) from the folders in ``rel``, or None when no class folder names it."""
    parts = [p.lower() for p in rel.split("/")[:-1]]
    male = next((CLASS_NAMES[p] for p in reversed(parts) if p in CLASS_NAMES), None)
    if male is None:
        return None
    split = next((SPLIT_NAMES[p] for p in parts if p in SPLIT_NAMES), None)
    return male, split


def looks_like_folders(image_files: list[str]) -> bool:
    return any(classify(f) is not None for f in image_files[:50000])


def read_folders(source: Source) -> Parsed:
    rows = []
    for rel in source.image_files():
        if (found := classify(rel)) is not None:
            rows.append((rel, rel, found[0], found[1]))
    table = pd.DataFrame(rows, columns=["image_id", "path", "Male", "split"])
    table["Male"] = table["Male"].astype(np.int8)
    split_origin = None
    warnings: list[str] = []
    given = table["split"].notna()
    if given.all():
        split_origin = "train/val/test folders"
        if not (table["split"] == "val").any():
            _val_from_train(table)
            split_origin = (
                f"train/test folders, val drawn from train ({VAL_FROM_TRAIN:.0%}, seeded)"
            )
    else:
        if given.any():
            warnings.append(
                f"{int((~given).sum()):,} images are outside train/val/test folders, so the "
                "folders' split is not used; a seeded split is drawn for all images"
            )
        table = table.drop(columns="split")
    return Parsed(
        layout="folder-per-class",
        family="folders",
        table=table,
        annotation=None,
        images=source,
        split_origin=split_origin,
        warnings=warnings,
    )


def _val_from_train(table: pd.DataFrame) -> None:
    """Without a validation folder, hold out a seeded, stratified part of train as val."""
    train = np.flatnonzero((table["split"] == "train").to_numpy())
    spec = SplitSpec(1 - VAL_FROM_TRAIN, VAL_FROM_TRAIN, 0.0)
    part = stratified_split(table["Male"].to_numpy()[train], spec)
    table.loc[train[part == "val"], "split"] = "val"
