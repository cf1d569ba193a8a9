"""The label journal on disk: one JSON record a line, appended and fsynced once per edit.

Three rules keep every acknowledged edit and nothing else (issue 8 measured both failures):

- **Readers never change the file.** Training, evaluation and the engine child read the journal
  while the browser appends to it; the line being written is, for a moment, an incomplete last
  line. A reader ignores it. Only the writer, holding the journal's lock, may cut a torn tail,
  which can then only be what a killed writer left behind.
- **A failed append leaves the file as it was.** The writer knows the size of the journal's good
  part; when a write or fsync fails (a full disk), it truncates back to it before raising, so a
  later successful append cannot turn half-written records into valid ones.
- **Damaged lines are set aside, not trusted.** Binary garbage, a JSON value that is not a
  record, a record without ids, a label that is not 0/1 or a sequence number that does not move
  forward are skipped; the writer keeps a copy of the damaged journal beside it and rewrites the
  journal with the good records only, and the store says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gender_desktop.errors import UserError, describe_os_error
from gender_desktop.fileio import atomic_write_bytes

JOURNAL_FILE = "journal.jsonl"
DAMAGED_PREFIX = "journal.damaged-"
OPS = ("set", "undo", "redo")


class LabelsNotSaved(UserError):
    """A label edit could not be made durable (a full disk, a read-only folder): nothing changed."""


@dataclass(frozen=True)
class Record:
    """One valid journal line. ``of`` names the change an undo or redo applies to."""

    op: str
    seq: int
    ids: tuple[str, ...] = ()
    old: tuple[int, ...] = ()
    new: tuple[int, ...] = ()
    of: int = 0


@dataclass
class JournalContents:
    """What a read found: the valid records in order, where the complete lines end, and the
    lines that were set aside (1-based line number, reason)."""

    records: list[Record] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)  # the raw line of each record
    numbers: list[int] = field(default_factory=list)  # and its 1-based line number
    end: int = 0  # bytes up to and including the last newline
    size: int = 0  # bytes in the file, a torn tail included
    bad: list[tuple[int, str]] = field(default_factory=list)

    @property
    def torn(self) -> bool:
        return self.size > self.end

    def set_aside(self, index: int, reason: str) -> None:
        """Move record ``index`` to the damaged lines (a record valid alone that the history
        cannot place, such as an undo of a change that is not there)."""
        self.bad.append((self.numbers[index], reason))
        self.bad.sort()
        self.lines[index] = b""

    def kept_lines(self) -> list[bytes]:
        return [line for line in self.lines if line]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _labels(value: Any, n: int) -> tuple[int, ...] | None:
    if not isinstance(value, list) or len(value) != n:
        return None
    if any(_int(v) not in (0, 1) for v in value):
        return None
    return tuple(value)


def parse_record(line: bytes, last_seq: int) -> Record | str:
    """A valid :class:`Record`, or the reason ``line`` is not one."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or absurdly nested
        return "not a JSON record"
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, not a record"
    op, seq = rec.get("op"), _int(rec.get("seq"))
    if op not in OPS:
        return f"unknown operation {str(op)[:40]!r}"
    if seq is None or seq <= last_seq:
        return "sequence number missing or not after the previous record's"
    if op != "set":
        of = _int(rec.get("of"))
        return Record(op, seq, of=of) if of is not None else f"{op} without the change it names"
    ids = rec.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return "a label change without image ids"
    old, new = _labels(rec.get("old"), len(ids)), _labels(rec.get("new"), len(ids))
    if old is None or new is None:
        return "labels that are not 0 or 1 for each image"
    return Record(op, seq, tuple(ids), old, new)


def read_journal(path: Path) -> JournalContents:
    """Read ``path`` without changing it. An incomplete last line (being written now, or torn by
    a kill) is not a record and is not reported: it was never acknowledged."""
    contents = JournalContents()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return contents
    except OSError as exc:
        raise UserError(describe_os_error(exc, "read")) from exc
    contents.size = len(raw)
    contents.end = raw.rfind(b"\n") + 1
    last_seq = 0
    for number, line in enumerate(raw[: contents.end].split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        parsed = parse_record(line, last_seq)
        if isinstance(parsed, str):
            contents.bad.append((number, parsed))
            continue
        last_seq = parsed.seq
        contents.records.append(parsed)
        contents.lines.append(line)
        contents.numbers.append(number)
    return contents


def describe_damage(path: Path, bad: list[tuple[int, str]], copy: Path | None) -> str:
    """One sentence for the status bar: how many lines were set aside, which and why."""
    shown = "; ".join(f"line {n}: {why}" for n, why in bad[:3])
    more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
    kept = f"; a copy of the damaged journal is kept as {copy.name}" if copy else ""
    return (
        f"{path}: {len(bad)} damaged label-journal line(s) were set aside ({shown}{more}){kept}. "
        "The other edits are applied."
    )


class JournalWriter:
    """The one writer of a journal (the caller holds its lock). Opening repairs the file: a
    torn tail is cut and damaged lines are moved to a dated copy beside it."""

    def __init__(self, path: Path, contents: JournalContents) -> None:
        self.path = path
        self.damaged_copy: Path | None = None
        if contents.bad:
            self.damaged_copy = self._set_aside(contents)
        elif contents.torn:
            with open(path, "r+b") as handle:
                handle.truncate(contents.end)
                os.fsync(handle.fileno())
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size  # the good part: every byte acknowledged
        self._dirty = False  # a failed append whose bytes may still be past _size

    def _set_aside(self, contents: JournalContents) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        copy = self.path.with_name(f"{DAMAGED_PREFIX}{stamp}.jsonl")
        k = 1
        while copy.exists():
            k += 1
            copy = self.path.with_name(f"{DAMAGED_PREFIX}{stamp}-{k}.jsonl")
        atomic_write_bytes(copy, self.path.read_bytes())
        atomic_write_bytes(self.path, b"".join(line + b"\n" for line in contents.kept_lines()))
        return copy

    def append(self, record: dict[str, object]) -> None:
        """Write one record durably, or raise :class:`LabelsNotSaved` with the file unchanged."""
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            if self._dirty:
                self._truncate()
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            self._dirty = True
            with contextlib.suppress(OSError):  # still dirty: the next append truncates first
                self._truncate()
            raise LabelsNotSaved(
                describe_os_error(exc, f"save the label edit to {self.path}")
                + "; the edit was not made"
            ) from exc
        self._size += len(data)

    def _truncate(self) -> None:
        os.ftruncate(self._fd, self._size)
        os.fsync(self._fd)
        self._dirty = False

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                if self._dirty:
                    os.ftruncate(fd, self._size)
            except OSError:
                pass
            finally:
                os.close(fd)
