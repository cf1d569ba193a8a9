"""Deleting runs without losing them: a deleted run moves into ``<runs folder>/.trash/``.

A run is hours of training, and a delete in a table of many is easily a mis-click, so delete
is a rename (atomic, instant even for gigabytes of checkpoints, on the same file system) and
undo renames it back. The trash is emptied only when the user says so (:func:`empty_trash`).

The folder keeps its name inside the trash (``-2``, ``-3``… when a run of that name is already
there); a small ``.trashed.json`` inside records where it came from and when, so the trash
can be listed and restored after the app restarts. The runs listings skip the trash (folders
starting with ``.``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from gender_desktop.errors import UserError, describe_os_error
from gender_desktop.fileio import atomic_write_json
from gender_desktop.runs.folder import CONFIG, workspace
from gender_desktop.runs.index import TRASH, forget
from gender_desktop.runs.meta import RUNNING, read_status

ORIGIN = ".trashed.json"


class TrashError(UserError):
    """A run cannot be deleted or restored; the message says why."""


@dataclass
class TrashEntry:
    path: Path  # where the run lies in the trash
    original: Path  # where it was
    deleted_at: str  # "YYYY-MM-DD HH:MM:SS"

    @property
    def name(self) -> str:
        return self.original.name


def trash_folder(root: Path | None = None) -> Path:
    return (Path(root) if root is not None else workspace()) / TRASH


def delete(run: Path, root: Path | None = None) -> TrashEntry:
    """Move the run folder into the trash of ``root`` (default: the folder that holds it).
    A running run is refused: its trainer is still writing there."""
    run = Path(run)
    if not (run / CONFIG).exists():
        raise TrashError("not a run folder (no config.json)", file=run)
    if read_status(run).state == RUNNING:
        raise TrashError(
            "is still running: stop it first (a running run cannot be deleted)", file=run
        )
    trash = trash_folder(root if root is not None else run.parent)
    try:
        trash.mkdir(exist_ok=True)
        target = _free(trash, run.name)
        os.rename(run, target)  # atomic on one file system; the trash is beside the runs
    except OSError as exc:
        raise TrashError(describe_os_error(exc, "move to the trash"), file=run) from exc
    entry = TrashEntry(target, run, time.strftime("%Y-%m-%d %H:%M:%S"))
    # Where it came from; a failure here only loses the exact original name (the folder
    # name is kept), never the run.
    with contextlib.suppress(OSError):
        atomic_write_json(target / ORIGIN, {"original": str(run), "deleted_at": entry.deleted_at})
    forget(run)
    return entry


def restore(entry: TrashEntry) -> Path:
    """Move a run back out of the trash; returns where it now is. When the original name was
    taken meanwhile, the next free name beside it is used (the result says which)."""
    if not entry.path.is_dir():
        raise TrashError("is no longer in the trash", file=entry.path)
    target = _free(entry.original.parent, entry.original.name)
    try:
        entry.original.parent.mkdir(parents=True, exist_ok=True)
        os.rename(entry.path, target)
    except OSError as exc:
        raise TrashError(describe_os_error(exc, "restore from the trash"), file=entry.path) from exc
    with contextlib.suppress(OSError):
        (target / ORIGIN).unlink()
    return target


def list_trash(root: Path | None = None) -> list[TrashEntry]:
    """The runs in the trash, most recently deleted first."""
    trash = trash_folder(root)
    try:
        folders = [p for p in trash.iterdir() if p.is_dir()]
    except OSError:
        return []
    entries = [_entry(p) for p in folders]
    return sorted(entries, key=lambda e: (e.deleted_at, e.path.name), reverse=True)


def _entry(path: Path) -> TrashEntry:
    """The entry of a folder in the trash; without a readable origin file it came from beside
    the trash under its own name."""
    original, when = path.parent.parent / path.name, ""
    try:
        saved = json.loads((path / ORIGIN).read_text(encoding="utf-8"))
        original = Path(saved["original"])
        when = str(saved.get("deleted_at") or "")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if not when:
        with contextlib.suppress(OSError):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    return TrashEntry(path, original, when)


def trash_size(root: Path | None = None) -> int:
    """Bytes held by the trash (for "Empty trash… (3 runs, 1.2 GB)")."""
    total = 0
    for dirpath, _dirs, files in os.walk(trash_folder(root)):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def empty_trash(root: Path | None = None) -> int:
    """Delete the trash's runs for good; returns how many. Only on the user's word."""
    entries = list_trash(root)
    failed: list[str] = []
    for entry in entries:
        try:
            shutil.rmtree(entry.path)
        except OSError as exc:
            failed.append(describe_os_error(exc, "delete"))
    if failed:
        raise TrashError(f"{len(failed)} run(s) could not be deleted: {failed[0]}")
    return len(entries)


def _free(root: Path, name: str) -> Path:
    path, k = root / name, 1
    while path.exists():
        k += 1
        path = root / f"{name}-{k}"
    return path
