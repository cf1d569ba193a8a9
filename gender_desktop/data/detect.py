"""Recognise a dataset layout from whatever the user picked: a folder, an annotation file or a
.zip, and hand it to the right reader. Nobody is asked to rearrange their files."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

from gender_desktop.data import celeba
from gender_desktop.data.adience import FOLD_RE, FRONTAL_RE, fold_files, read_adience
from gender_desktop.data.errors import DatasetError
from gender_desktop.data.folders import looks_like_folders, read_folders
from gender_desktop.data.parsed import Parsed
from gender_desktop.data.sources import FolderSource, Source, ZipSource
from gender_desktop.data.utkface import looks_like_utkface, read_utkface

SUPPORTED = (
    "CelebA (list_attr_celeba.txt, flat or Img/Anno/Eval), the Kaggle CelebA copy "
    "(list_attr_celeba.csv), a CSV with a Male column, UTKFace file names, Adience "
    "fold_N_data.txt, or male/ and female/ folders"
)
_MAX_CSV_DEPTH = 2


def parse(path: str | Path) -> Parsed:
    """Detect the layout at ``path`` and read its annotations (images are located later)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DatasetError("no such file or folder", str(p))
    if p.is_dir():
        src = FolderSource(p)
        zips = _zips_in(src)
        found = _detect(src, [src, *zips], annotations_only=False)
        for archive in zips:  # a folder holding just the downloaded archive (Kaggle's archive.zip)
            if found is not None:
                break
            found = _detect(archive, [archive], annotations_only=False)
        if found is None:
            raise DatasetError(f"no supported dataset found. Expected {SUPPORTED}.", str(p))
        return found
    if zipfile.is_zipfile(p):
        archive = ZipSource(p)
        found = _detect(archive, [archive], annotations_only=False)
        if found is None:
            beside = FolderSource(p.parent)
            found = _detect(beside, [archive], annotations_only=True)
        if found is None:
            raise DatasetError(
                f"no annotations inside the archive or beside it. Expected {SUPPORTED}.", str(p)
            )
        return found
    return _parse_annotation_file(p)


def _parse_annotation_file(p: Path) -> Parsed:
    name = p.name.lower()
    if FOLD_RE.search(name) or FRONTAL_RE.search(name):
        return read_adience(FolderSource(p.parent))
    root = p.parent.parent if p.parent.name.lower() in ("anno", "eval") else p.parent
    if name in celeba.AUXILIARY:  # the partition or bbox file: open the dataset it belongs to
        return parse(root)
    src = FolderSource(root)
    rel = p.relative_to(root).as_posix()
    candidates: list[Source] = [src, *_zips_in(src)]
    if name == celeba.ATTR_TXT:
        return celeba.read_official(src, rel, candidates)
    if name == celeba.ATTR_CSV:
        return celeba.read_kaggle(src, rel, candidates)
    if name.endswith((".csv", ".txt", ".tsv")):
        return celeba.read_subset(src, rel, candidates)
    raise DatasetError(f"not a dataset file. Expected {SUPPORTED}.", str(p))


def _zips_in(src: FolderSource) -> list[Source]:
    return [
        ZipSource(src.path(f))
        for f in src.other_files()
        if f.lower().endswith(".zip") and f.count("/") <= _MAX_CSV_DEPTH
    ]


def _detect(src: Source, candidates: list[Source], *, annotations_only: bool) -> Parsed | None:
    readers: list[tuple[Callable[[], str | None], Callable[[str], Parsed]]] = [
        (
            lambda: celeba.find_file(src, celeba.ATTR_TXT),
            lambda rel: celeba.read_official(src, rel, candidates),
        ),
        (
            lambda: celeba.find_file(src, celeba.ATTR_CSV),
            lambda rel: celeba.read_kaggle(src, rel, candidates),
        ),
        (lambda: _male_csv(src), lambda rel: celeba.read_subset(src, rel, candidates)),
    ]
    for find, read in readers:
        rel = find()
        if rel is not None:
            return read(rel)
    if annotations_only:
        return None
    if fold_files(src.other_files()):
        return read_adience(src)
    if looks_like_folders(src.image_files()):
        return read_folders(src)
    if looks_like_utkface(src.image_files()):
        return read_utkface(src)
    return None


def _male_csv(src: Source) -> str | None:
    csvs = [
        f
        for f in src.other_files()
        if f.lower().endswith((".csv", ".tsv")) and f.count("/") <= _MAX_CSV_DEPTH
    ]
    csvs.sort(key=lambda f: (f.count("/"), f))
    return next((f for f in csvs if celeba.has_male_column(src, f)), None)
