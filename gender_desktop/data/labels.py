"""Label edits: an overlay on the dataset's labels that is never lost and never touches the source.

Every edit is appended to ``journal.jsonl`` in the dataset's sidecar folder and fsynced *before*
the caller is told it is done, so a crash or kill at any moment keeps every edit the UI showed.
Undo and redo are journal records too: replaying the journal on open rebuilds the labels and the
whole undo/redo history exactly. ``labels.csv`` is an atomically written snapshot of the current
edits, for people and other tools; the journal stays the source of truth.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from gender_desktop import csvsafe
from gender_desktop.data.dataset import Dataset
from gender_desktop.data.journal import (
    JOURNAL_FILE,
    JournalContents,
    JournalWriter,
    LabelsNotSaved,
    describe_damage,
    read_journal,
)
from gender_desktop.errors import UserError, describe_os_error
from gender_desktop.fileio import atomic_write_bytes

SNAPSHOT_FILE = "labels.csv"
LOCK_FILE = "journal.lock"


class LabelsInUse(UserError):
    """Another window or process has this dataset's labels open for editing."""


@dataclass(frozen=True)
class Change:
    """One user action: the images it touched with their label before and after."""

    seq: int
    ids: tuple[str, ...]
    old: tuple[int, ...]
    new: tuple[int, ...]

    def reversed(self) -> Change:
        return Change(self.seq, self.ids, self.new, self.old)


class LabelStore:
    """The label overlay of one dataset. One writer at a time: the store holds an OS file lock
    (filelock, released even if the process dies) so two windows cannot interleave journals;
    ``readonly`` stores (for training or export) take no lock, cannot edit and never change the
    journal (see :mod:`gender_desktop.data.journal` for the rules that keep every edit).

    ``problems`` lists what opening found and set aside (damaged journal lines), for the UI.
    """

    def __init__(
        self, dataset: Dataset, folder: Path | None = None, readonly: bool = False
    ) -> None:
        self.dataset = dataset
        self.folder = folder or dataset.sidecar()
        self.readonly = readonly
        self.journal_path = self.folder / JOURNAL_FILE
        self.original = dataset.table["Male"].to_numpy().astype(np.int8)
        self.male = self.original.copy()
        self.orphaned: set[str] = set()  # edited ids no longer in the dataset
        self.undo_stack: list[Change] = []
        self.redo_stack: list[Change] = []
        self.problems: list[str] = []
        self._seq = 0
        self._lock: FileLock | None = None
        self._writer: JournalWriter | None = None
        if readonly:
            contents = read_journal(self.journal_path)
            self._replay(contents)
            if contents.bad:
                self.problems = [describe_damage(self.journal_path, contents.bad, None)]
            return
        self._lock = FileLock(str(self.folder / LOCK_FILE), timeout=0)
        try:
            self._lock.acquire()
        except Timeout as exc:
            raise LabelsInUse(
                f"The labels of {dataset.name} are open for editing in another "
                "gender-desktop window. Close that window (or this dataset there) first."
            ) from exc
        try:
            contents = read_journal(self.journal_path)
            self._replay(contents)
            self._writer = JournalWriter(self.journal_path, contents)
        except BaseException as exc:
            self._lock.release()
            if isinstance(exc, OSError):
                raise UserError(describe_os_error(exc, "open the label journal")) from exc
            raise
        if contents.bad:
            self.problems = [
                describe_damage(self.journal_path, contents.bad, self._writer.damaged_copy)
            ]

    # -- queries ------------------------------------------------------------------------------
    @property
    def edited(self) -> np.ndarray:
        """Per row: does the current label differ from the source's?"""
        return self.male != self.original

    @property
    def edit_count(self) -> int:
        return int(self.edited.sum())

    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    def can_redo(self) -> bool:
        return bool(self.redo_stack)

    # -- actions ------------------------------------------------------------------------------
    def set_male(self, rows: list[int] | np.ndarray, value: int) -> Change | None:
        """Set the label of ``rows``; returns the change (None if nothing changed). Durable on
        return; on a failed write (:class:`LabelsNotSaved`) nothing changed, on disk or here."""
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        rows = rows[self.male[rows] != value]
        if len(rows) == 0:
            return None
        ids = tuple(str(i) for i in self.dataset.table["image_id"].to_numpy()[rows])
        change = Change(
            self._seq + 1, ids, tuple(int(v) for v in self.male[rows]), (int(value),) * len(rows)
        )
        self._append(
            {
                "op": "set",
                "seq": change.seq,
                "ids": list(ids),
                "old": list(change.old),
                "new": list(change.new),
            }
        )
        self._apply(change, rows)
        self.undo_stack.append(change)
        self.redo_stack.clear()
        return change

    def undo(self) -> Change | None:
        if not self.undo_stack:
            return None
        change = self.undo_stack[-1]
        self._append({"op": "undo", "seq": self._seq + 1, "of": change.seq})
        self.undo_stack.pop()
        self._apply(change.reversed())
        self.redo_stack.append(change)
        return change

    def redo(self) -> Change | None:
        if not self.redo_stack:
            return None
        change = self.redo_stack[-1]
        self._append({"op": "redo", "seq": self._seq + 1, "of": change.seq})
        self.redo_stack.pop()
        self._apply(change)
        self.undo_stack.append(change)
        return change

    def rows_of(self, change: Change) -> np.ndarray:
        rows = self.dataset.position(list(change.ids))
        return rows[rows >= 0]

    # -- persistence --------------------------------------------------------------------------
    def save_snapshot(self) -> Path:
        """Write the current edits to ``labels.csv`` atomically."""
        rows = np.flatnonzero(self.edited)
        frame = pd.DataFrame(
            {
                "image_id": self.dataset.table["image_id"].to_numpy()[rows],
                "Male": self.male[rows],
                "source_Male": self.original[rows],
            }
        )
        path = self.folder / SNAPSHOT_FILE
        atomic_write_bytes(path, csvsafe.frame_csv(frame))  # for people: spreadsheet-safe
        return path

    def close(self, snapshot: bool = True) -> None:
        """Close the journal and let go of the lock, whatever happens to the snapshot: a full
        disk must not keep this process (or another) from reopening the labels. A snapshot
        that could not be written raises :class:`LabelsNotSaved` after the lock is released
        (the journal, which holds every edit, is intact)."""
        writer, self._writer = self._writer, None
        try:
            if writer is not None:
                writer.close()
                if snapshot:
                    self.save_snapshot()
        except OSError as exc:
            raise LabelsNotSaved(
                describe_os_error(exc, f"write {self.folder / SNAPSHOT_FILE}")
                + f"; every edit is kept in {self.journal_path}"
            ) from exc
        finally:
            if self._lock is not None and self._lock.is_locked:
                self._lock.release()

    def _append(self, record: dict[str, object]) -> None:
        if self._writer is None:
            raise PermissionError("this label store is read-only")
        record["t"] = round(time.time(), 3)
        self._writer.append(record)
        self._seq = int(record["seq"])  # type: ignore[call-overload]

    def _apply(self, change: Change, rows: np.ndarray | None = None) -> None:
        if rows is None:
            rows = self.dataset.position(list(change.ids))
        values = np.asarray(change.new, dtype=np.int8)
        known = rows >= 0
        self.male[rows[known]] = values[known]
        if not known.all():
            self.orphaned.update(i for i, k in zip(change.ids, known, strict=True) if not k)

    def _replay(self, contents: JournalContents) -> None:
        """Rebuild labels and history from the journal's valid records. An undo or redo that
        names no change it could apply to is set aside like a damaged line."""
        for index, rec in enumerate(contents.records):
            self._seq = rec.seq
            if rec.op == "set":
                change = Change(rec.seq, rec.ids, rec.old, rec.new)
                self._apply(change)
                self.undo_stack.append(change)
                self.redo_stack.clear()
                continue
            undo = rec.op == "undo"
            source, target = (
                (self.undo_stack, self.redo_stack) if undo else (self.redo_stack, self.undo_stack)
            )
            change = _take(source, rec.of)
            if change is None:
                contents.set_aside(index, f"{rec.op} of a change that is not there")
                continue
            self._apply(change.reversed() if undo else change)
            target.append(change)


def _take(stack: list[Change], seq: object) -> Change | None:
    """Remove and return the change ``seq`` names (normally the top of the stack)."""
    for i in range(len(stack) - 1, -1, -1):
        if stack[i].seq == seq:
            return stack.pop(i)
    return None


def labelled_table(dataset: Dataset) -> pd.DataFrame:
    """The dataset table with the stored label edits applied: what training and evaluation use."""
    table = dataset.table.copy()
    journal = dataset.sidecar() / JOURNAL_FILE
    if journal.exists():
        table["Male"] = LabelStore(dataset, readonly=True).male
    return table


def export_labels(
    dataset: Dataset, male: np.ndarray, path: str | os.PathLike[str], coding: str = "-1/1"
) -> Path:
    """Write a CelebA-style CSV (``image_id,Male,<attributes>``) with ``male`` as the labels.

    ``coding`` is ``"-1/1"`` (as the official release) or ``"0/1"``; boolean attributes follow it,
    other attributes (age, race...) are written as they are. Text cells that a spreadsheet would
    run as a formula (an id or value starting with ``=``, ``+``, ``-``, ``@``) are written as
    text (:mod:`gender_desktop.csvsafe`), file names that are not UTF-8 as their own bytes.
    """
    if coding not in ("-1/1", "0/1"):
        raise ValueError(f"coding must be '-1/1' or '0/1', not {coding!r}")
    negative = -1 if coding == "-1/1" else 0
    table = dataset.table
    out = pd.DataFrame({"image_id": table["image_id"].to_numpy()})
    out["Male"] = np.where(male == 1, 1, negative)
    for col in dataset.attributes:
        values = table[col]
        out[col] = np.where(values.to_numpy(), 1, negative) if values.dtype == bool else values
    target = Path(path)
    atomic_write_bytes(target, csvsafe.frame_csv(out))
    return target
