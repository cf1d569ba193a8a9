"""Adience: ``fold_N_data.txt`` tables (tab-separated) and images under ``aligned/`` or ``faces/``.
The five folds are subject-exclusive, so they are kept as ``fold`` for cross-validation and give
the default split: folds 0-2 train, 3 val, 4 test."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from gender_desktop.data.errors import DatasetError
from gender_desktop.data.parsed import Parsed
from gender_desktop.data.sources import Source
from gender_desktop.data.tables import line_of, read_table

FOLD_RE = re.compile(r"(?:^|/)fold_(\d)_data\.txt$", re.IGNORECASE)
FRONTAL_RE = re.compile(r"(?:^|/)fold_frontal_(\d)_data\.txt$", re.IGNORECASE)
REQUIRED = ("user_id", "original_image", "face_id", "gender")
FOLD_SPLIT = {0: "train", 1: "train", 2: "train", 3: "val", 4: "test"}
IMAGE_FOLDERS = (("aligned", "landmark_aligned_face"), ("faces", "coarse_tilt_aligned_face"))


def fold_files(files: list[str]) -> dict[int, str]:
    folds = {int(m.group(1)): f for f in files if (m := FOLD_RE.search(f))}
    if not folds:
        folds = {int(m.group(1)): f for f in files if (m := FRONTAL_RE.search(f))}
    return folds


def read_adience(source: Source) -> Parsed:
    folds = fold_files(source.other_files())
    frames: list[pd.DataFrame] = []
    skipped: list[tuple[str, str]] = []
    for fold, rel in sorted(folds.items()):
        display = source.display(rel)
        frame = read_table(
            source.read_bytes(rel), display, sep="\t", dtype=str, keep_default_na=False
        )
        frame.columns = [str(c).strip() for c in frame.columns]
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise DatasetError(f"missing column(s) {', '.join(missing)} in the header", display, 1)
        gender = frame["gender"].str.strip().str.lower()
        keep = gender.isin(("m", "f")).to_numpy()
        for pos in np.flatnonzero(~keep):
            value = gender.iloc[pos] or "empty"
            line = line_of(gender, pos, 2)
            skipped.append((f"{display}, line {line}", f"gender is {value!r}, not m/f"))
        frame = frame[keep].copy()
        frame["Male"] = (gender[keep] == "m").astype(np.int8).to_numpy()
        frame["fold"] = fold
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    images = source.image_files()
    present = set(images)
    candidates = [
        _paths(table, folder, stem, _prefix_of(images, folder)) for folder, stem in IMAGE_FOLDERS
    ]
    paths = max(candidates, key=lambda ps: sum(p in present for p in ps[:200]))
    ids = [p.split("/", 1)[1] for p in _paths(table, *IMAGE_FOLDERS[0], "")]
    out = pd.DataFrame(
        {
            "image_id": ids,
            "path": paths,
            "Male": table["Male"].to_numpy(),
            "fold": table["fold"].to_numpy(dtype=np.int8),
            "age": table.get("age", pd.Series([""] * len(table))).str.strip().to_numpy(),
        }
    )
    dup = out["image_id"].duplicated(keep="first")
    skipped += [
        (i, "listed in more than one fold; the first is kept") for i in out.loc[dup, "image_id"]
    ]
    out = out.loc[~dup].reset_index(drop=True)
    out["split"] = out["fold"].map(FOLD_SPLIT).to_numpy(dtype=object)
    return Parsed(
        layout="adience",
        family="adience",
        table=out,
        annotation=source.display(next(iter(folds.values()))),
        images=source,
        split_origin="folds 0-2 train, 3 val, 4 test",
        skipped=skipped,
    )


def _prefix_of(files: list[str], folder: str) -> str:
    """The folders above ``aligned/`` (or ``faces/``) when the dataset sits one level down."""
    for f in files:
        parts = f.split("/")
        if folder in parts[:-1]:
            return "".join(p + "/" for p in parts[: parts.index(folder)])
    return ""


def _paths(table: pd.DataFrame, folder: str, stem: str, prefix: str) -> list[str]:
    return [
        f"{prefix}{folder}/{u.strip()}/{stem}.{f.strip()}.{o.strip()}"
        for u, f, o in zip(table["user_id"], table["face_id"], table["original_image"], strict=True)
    ]
