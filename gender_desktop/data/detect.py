"""Recognise a dataset layout from whatever the user picked: a folder, an annotation file or a
.zip, and hand it to the right reader. Nobody is asked to rearrange their files."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gender_desktop.data import celeba
from gender_desktop.data.adience import FOLD_RE, FRONTAL_RE, fold_files, read_adience
from gender_desktop.data.errors import DatasetError
from gender_desktop.data.folders import looks_like_folders, read_folders
from gender_desktop.data.parsed import Parsed
from gender_desktop.data.sources import (
    FolderSource,
    Source,
    ZipSource,
    is_zip_archive,
    open_regular,
    printable,
)
from gender_desktop.data.utkface import looks_like_utkface, read_utkface

_MAX_CSV_DEPTH = 2


def parse(path: str | Path) -> Parsed:
    """Detect the layout at ``path`` and read its annotations (images are located later)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DatasetError("no such file or folder", printable(str(p)))
    if p.is_dir():
        return _parse_folder(p)
    open_regular(p).close()  # a FIFO or a device: refused here, with its name, never read
    if is_zip_archive(p):
        return _parse_zip(p)
    if p.suffix.lower() == ".zip":
        raise DatasetError(
            "not a readable zip archive: damaged or incomplete (is the download complete?)",
            printable(str(p)),
        )
    return _parse_annotation_file(p)


def _parse_folder(p: Path) -> Parsed:
    src = FolderSource(p)
    zips, unusable = _zips_in(src)
    found = _detect(src, [src, *zips], annotations_only=False, unreadable=unusable)
    for archive in zips:  # a folder holding just the downloaded archive (Kaggle's archive.zip)
        if found is not None:
            break
        found = _detect(archive, [archive], annotations_only=False, unreadable=unusable)
    if found is None:
        why = "".join(f"; {u}" for u in unusable)
        raise DatasetError(
            f"no supported dataset found. Expected one of: {SUPPORTED}{why}.", printable(str(p))
        )
    return _with_unusable(found, unusable)


def _parse_zip(p: Path) -> Parsed:
    """A picked zip: its own annotations, else the annotation files the layouts put beside it
    (the same folder; ``Anno/`` and ``Eval/`` when it sits in the release's ``Img/``). The
    folders around it are never searched: an unrelated labels file further away must not be
    paired with it."""
    archive = ZipSource(p)
    unreadable: list[str] = []
    found = _detect(archive, [archive], annotations_only=False, unreadable=unreadable)
    if found is None:
        found = _detect(_beside(p), [archive], annotations_only=True, unreadable=unreadable)
    if found is None:
        if unreadable:  # e.g. the annotations are in the zip but encrypted: say that, not "none"
            raise DatasetError(unreadable[0])
        raise DatasetError(
            f"no annotations inside the archive or beside it in {printable(str(p.parent))}. "
            f"Expected one of: {SUPPORTED}.",
            printable(str(p)),
        )
    return found


def _beside(archive: Path) -> FolderSource:
    """The files a layout may keep next to an image zip, and nothing further away."""
    folder = archive.parent
    if folder.name.lower() == "img":  # the official release: Img/, Anno/, Eval/ side by side
        root = folder.parent
        subfolders = [d for d in _entries(root) if d.is_dir()]
        wanted = [d for d in subfolders if d.name.lower() in ("img", "anno", "eval")]
        only = [f"{d.name}/{f.name}" for d in wanted for f in _entries(Path(d.path)) if _file(f)]
        return FolderSource(root, only=only)
    return FolderSource(folder, depth=0)


def _entries(folder: Path | str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError:
        return []


def _file(entry: os.DirEntry[str]) -> bool:
    try:
        return not entry.is_dir()
    except OSError:
        return False


def _with_unusable(parsed: Parsed, unusable: list[str]) -> Parsed:
    parsed.unusable.extend(unusable)
    parsed.warnings.extend(f"{u}; its files are not used" for u in unusable)
    return parsed


def _parse_annotation_file(p: Path) -> Parsed:
    name = p.name.lower()
    if FOLD_RE.search(name) or FRONTAL_RE.search(name):
        return read_adience(FolderSource(p.parent))
    root = p.parent.parent if p.parent.name.lower() in ("anno", "eval") else p.parent
    if name in celeba.AUXILIARY:  # the partition or bbox file: open the dataset it belongs to
        return parse(root)
    src = FolderSource(root)
    rel = p.relative_to(root).as_posix()
    zips, unusable = _zips_in(src)
    candidates: list[Source] = [src, *zips]
    if name == celeba.ATTR_TXT:
        parsed = celeba.read_official(src, rel, candidates)
    elif name == celeba.ATTR_CSV:
        parsed = celeba.read_kaggle(src, rel, candidates)
    elif name.endswith((".csv", ".txt", ".tsv")):
        parsed = celeba.read_subset(src, rel, candidates)
    else:
        raise DatasetError(f"not a dataset file. Expected one of: {SUPPORTED}.", printable(str(p)))
    return _with_unusable(parsed, unusable)


def _zips_in(src: FolderSource) -> tuple[list[Source], list[str]]:
    """The zips near the annotations that can hold images, and why the others cannot (a damaged
    or cut download, a FIFO named .zip): those are reported, never fatal."""
    usable: list[Source] = []
    unusable: list[str] = []
    for f in src.other_files():
        if not f.lower().endswith(".zip") or f.count("/") > _MAX_CSV_DEPTH:
            continue
        archive = ZipSource(src.path(f))
        try:
            archive.files()
        except DatasetError as exc:
            archive.close()
            unusable.append(str(exc))
            continue
        usable.append(archive)
    return usable, unusable


def _detect(
    src: Source,
    candidates: list[Source],
    *,
    annotations_only: bool,
    unreadable: list[str] | None = None,
) -> Parsed | None:
    """The first layout of :data:`LAYOUTS` that ``src`` holds, or None; candidate annotation
    files that cannot be read (encrypted, a FIFO, no permission) are skipped and their reasons
    added to ``unreadable``."""
    problems = unreadable if unreadable is not None else []
    for layout in LAYOUTS:
        if annotations_only and not layout.by_annotation:
            continue
        rel = layout.find(src, problems)
        if rel is not None:
            return layout.read(src, rel, candidates)
    return None


def _male_csv(src: Source, unreadable: list[str]) -> str | None:
    csvs = [
        f
        for f in src.other_files()
        if f.lower().endswith((".csv", ".tsv")) and f.count("/") <= _MAX_CSV_DEPTH
    ]
    csvs.sort(key=lambda f: (f.count("/"), f))
    for f in csvs:
        try:
            if celeba.has_male_column(src, f):
                return f
        except DatasetError as exc:
            unreadable.append(str(exc))
    return None


def _utkface_names(src: Source, _unreadable: list[str]) -> str | None:
    return "" if looks_like_utkface(src.image_files()) else None


def _class_folders(src: Source, _unreadable: list[str]) -> str | None:
    return "" if looks_like_folders(src.image_files()) else None


def _adience_folds(src: Source, _unreadable: list[str]) -> str | None:
    return "" if fold_files(src.other_files()) else None


@dataclass(frozen=True)
class Layout:
    """One dataset layout the app reads: how it is recognised, how it is read, and how to name
    it to a person. :data:`LAYOUTS` is the one list of them: detection walks it in order, and
    the error messages and the welcome page describe it, so a new layout is added once."""

    name: str  # what Parsed.layout says, e.g. "celeba-official"
    title: str  # "CelebA, official release"
    files: str  # what a user has on disk, in a few words
    find: Callable[[Source, list[str]], str | None]  # the file it keys on ("" = none), or None
    read: Callable[[Source, str, list[Source]], Parsed]  # (source, that file, image sources)
    by_annotation: bool = True  # recognised by an annotation file (also one beside a zip)


LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "celeba-official",
        "CelebA, official release",
        "list_attr_celeba.txt with img_align_celeba/ (flat, or in Img/ Anno/ Eval/), "
        "the images as a folder or a .zip",
        lambda src, _u: celeba.find_file(src, celeba.ATTR_TXT),
        celeba.read_official,
    ),
    Layout(
        "celeba-kaggle",
        "CelebA, Kaggle copy",
        "list_attr_celeba.csv with img_align_celeba/img_align_celeba/",
        lambda src, _u: celeba.find_file(src, celeba.ATTR_CSV),
        celeba.read_kaggle,
    ),
    Layout(
        "celeba-subset",
        "CSV with a Male column",
        "one CSV (image name first, Male coded -1/1 or 0/1) with the images in a folder or .zip",
        _male_csv,
        celeba.read_subset,
    ),
    Layout(
        "adience",
        "Adience",
        "fold_0_data.txt … fold_4_data.txt with aligned/ or faces/",
        _adience_folds,
        lambda src, _rel, _c: read_adience(src),
        by_annotation=False,
    ),
    Layout(
        "folder-per-class",
        "Folder per class",
        "male/ and female/ folders (men/women, man/woman), optionally in train/ val/ test/",
        _class_folders,
        lambda src, _rel, _c: read_folders(src),
        by_annotation=False,
    ),
    Layout(
        "utkface",
        "UTKFace",
        "one folder of age_gender_race_date.jpg(.chip.jpg) files",
        _utkface_names,
        lambda src, _rel, _c: read_utkface(src),
        by_annotation=False,
    ),
)

SUPPORTED = "; ".join(f"{layout.title} ({layout.files})" for layout in LAYOUTS)
