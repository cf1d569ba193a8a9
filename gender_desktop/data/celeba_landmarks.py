"""CelebA's landmark file (``list_landmarks_align_celeba.txt``, or the Kaggle copy's ``.csv``):
where the eyes, nose and mouth corners sit in each aligned 178x218 image.

The app does not train on landmarks; it reads them to know where CelebA's alignment put the
faces, so new photos can be framed the same way (ml/framing.py). Located with the same rules as
the other annotation files (:func:`celeba.find_file`: case-insensitive, the shallowest copy,
preferring one beside the attribute file) and parsed with the same bounded table reader, whose
errors name the file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gender_desktop.data.celeba import ATTR_CSV, ATTR_TXT, find_file, official_rows
from gender_desktop.data.errors import DatasetError
from gender_desktop.data.sources import FolderSource, Source, ZipSource, is_zip_archive
from gender_desktop.data.tables import BOM, line_of, read_table

LANDMARKS_TXT = "list_landmarks_align_celeba.txt"
LANDMARKS_CSV = "list_landmarks_align_celeba.csv"
EYE_COLUMNS = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y")
# Where the layouts keep annotation files, relative to the dataset's folder: flat (Kaggle, the
# flat official copy), the release's Anno/, torchvision's celeba/ (data/DATA_FORMATS.md).
_ANNOTATION_FOLDERS = ("", "anno", "celeba", "celeba/anno")


def find_landmarks(dataset_path: str | Path) -> tuple[Source, str] | None:
    """The landmark file of the dataset picked at ``dataset_path`` (its folder, an annotation
    file in it, or its zip: Kaggle's ``archive.zip`` holds everything), as a source and a path
    in it; None when it has none.

    Only the folders the layouts keep annotations in are listed, and the zips beside them, never
    the image folders: a full CelebA folder holds 200,000 images, and this runs when a run's
    model is loaded."""
    path = Path(dataset_path)
    if path.is_file() and is_zip_archive(path):
        return _in_source(ZipSource(path))
    folder = path if path.is_dir() else path.parent
    if folder.name.lower() in ("anno", "eval", "img"):
        folder = folder.parent
    found = _in_source(FolderSource(folder, only=_annotation_files(folder)))
    if found is None:
        for archive in sorted(folder.glob("*.[zZ][iI][pP]")):
            if is_zip_archive(archive) and (found := _in_source(ZipSource(archive))):
                break
    return found


def _in_source(source: Source) -> tuple[Source, str] | None:
    """The landmark file in ``source`` (by :func:`celeba.find_file`'s rules), or None."""
    try:
        near = find_file(source, ATTR_TXT) or find_file(source, ATTR_CSV) or ""
        rel = find_file(source, LANDMARKS_TXT, near) or find_file(source, LANDMARKS_CSV, near)
    except DatasetError:  # an unreadable zip: no landmarks to be had
        source.close()
        return None
    if rel is None:
        source.close()
        return None
    return source, rel


def _annotation_files(folder: Path) -> list[str]:
    """The files (relative POSIX paths) in ``folder``'s annotation folders, matched
    case-insensitively (``Anno`` or ``anno``)."""
    found: list[str] = []
    for wanted in _ANNOTATION_FOLDERS:
        current, prefix = folder, ""
        for part in [p for p in wanted.split("/") if p]:
            match = _subfolder(current, part)
            if match is None:
                break
            current, prefix = current / match, f"{prefix}{match}/"
        else:
            found += [prefix + entry.name for entry in _files_in(current)]
    return found


def _subfolder(folder: Path, name: str) -> str | None:
    try:
        return next(
            (p.name for p in folder.iterdir() if p.name.lower() == name and p.is_dir()), None
        )
    except OSError:
        return None


def _files_in(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.suffix.lower() in (".txt", ".csv")]
    except OSError:
        return []


def read_eyes(source: Source, rel: str) -> np.ndarray:
    """The eye landmarks, one ``(lefteye_x, lefteye_y, righteye_x, righteye_y)`` row per image,
    as floats. The official ``.txt`` (a count line, a header line of names, then whitespace
    rows) and the Kaggle ``.csv`` (``image_id,lefteye_x,...``) are both read by column name.
    A :class:`DatasetError` names the file and the line of the first bad value."""
    display = source.display(rel)
    data = source.read_bytes(rel).removeprefix(BOM)
    if rel.lower().endswith(".csv"):
        frame = read_table(data, display, dtype=str)
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        first = 2
    else:
        lines = data.split(b"\n", 2)
        names = lines[1].decode("utf-8", "replace").split() if len(lines) > 1 else []
        if not set(EYE_COLUMNS) <= set(names):
            raise DatasetError(
                f"line 2 should name the landmarks ({' '.join(EYE_COLUMNS)}, ...)", display, 2
            )
        frame = official_rows(data, display, names, str)
        first = 3
    missing = [c for c in EYE_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"no {', '.join(missing)} column in the header", display, first - 1)
    eyes = frame[list(EYE_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    bad = eyes.isna().any(axis=1).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        row = frame[list(EYE_COLUMNS)].iloc[pos].tolist()
        raise DatasetError(
            f"eye landmarks must be numbers, not {row}", display, line_of(frame, pos, first)
        )
    return eyes.to_numpy(dtype=float)
