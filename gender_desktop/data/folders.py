"""Folder per class: ``male/`` and ``female/`` (also men/women, man/woman, any case), optionally
inside ``train/``, ``val/``, ``test/`` folders that then give the split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gender_desktop.data.parsed import Parsed
from gender_desktop.data.sources import Source

CLASS_NAMES = {"male": 1, "men": 1, "man": 1, "female": 0, "women": 0, "woman": 0}
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


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
    if table["split"].notna().all():
        split_origin = "train/val/test folders"
    else:
        table = table.drop(columns="split")
    return Parsed(
        layout="folder-per-class",
        family="folders",
        table=table,
        annotation=None,
        images=source,
        split_origin=split_origin,
    )
