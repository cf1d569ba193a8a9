"""Crash-safe file writes.

A write either lands whole or not at all: the bytes go to a temp file in the same folder, are
flushed and fsynced, then ``os.replace`` swaps it in (atomic on POSIX and Windows). A crash or
kill at any point leaves the previous file intact.

Temp files are named ``.<target name>.<writer pid>.<random>.tmp``. A killed writer leaves its
temp file behind; :func:`clean_stale_temps` removes those whose writer is gone (the pid in the
name says whose it is), so a folder reopened for writing (a run resumed) does not keep them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gender_desktop.errors import UserError

TEMP_SUFFIX = ".tmp"
# ".<name>.<pid>.<mkstemp's 8 random characters>.tmp"; the pid is absent in older temp files.
_TEMP_NAME = re.compile(r"^\..+?(?:\.(?P<pid>\d+))?\.[A-Za-z0-9_]{8}\.tmp$")
STALE_AFTER_S = 60.0  # a temp file without a pid is stale once it is this old


def make_temp(target: Path) -> tuple[int, Path]:
    """An open, private temp file beside ``target`` (same folder: the rename is atomic), named
    so that :func:`clean_stale_temps` can tell whose it is."""
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=target.parent
    )
    return fd, Path(name)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    target = _regular_target(Path(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = make_temp(target)
    try:
        os.chmod(tmp, _mode_for(target))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename != str(target):
            # A failed write of a temp file says nothing of which file the user was saving
            # (os.write names none); the error names the target instead.
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise
    _fsync_dir(target.parent)


def atomic_link(source: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Make ``path`` the same file as ``source`` (a hard link swapped in atomically), so a
    second copy of a large file costs no write; where hard links are not supported (FAT,
    some network shares) the bytes are copied atomically instead. A later atomic write of
    ``source`` replaces its name only: ``path`` keeps the contents it was linked to."""
    source, target = Path(source), _regular_target(Path(path))
    fd, tmp = make_temp(target)
    os.close(fd)
    try:
        os.unlink(tmp)
        os.link(source, tmp)
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        atomic_write_bytes(target, source.read_bytes())
        return
    _fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _regular_target(target: Path) -> Path:
    """Where the bytes really go: through a symbolic link to its file (the rename would
    replace the link itself), and never over something that is not a regular file (the
    rename would replace a device such as /dev/full, a FIFO or a folder with a plain file)."""
    real = Path(os.path.realpath(target))
    try:
        mode = os.stat(real).st_mode
    except OSError:
        return real  # a new file
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device or a FIFO)"
        raise UserError(f"{kind}: only regular files are written, choose a file name", target)
    return real


def _mode_for(target: Path) -> int:
    """Keep an existing file's permissions; a new file gets what the umask allows (mkstemp's
    temp files are private, which would make an exported CSV unreadable to others)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def clean_stale_temps(folder: str | os.PathLike[str], now: float | None = None) -> list[Path]:
    """Remove the temp files of atomic writes in ``folder`` whose writer is gone; return them.

    Only names of this module's pattern are touched. A temp file with a pid is removed when no
    process of that pid runs (never one of this process: another thread may be writing it);
    one without a pid (older versions), or where processes cannot be asked (Windows), once it
    is :data:`STALE_AFTER_S` old: no write of the app takes that long between creating and
    renaming its temp file.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match["pid"]) if match["pid"] else None
        if pid == os.getpid():
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        alive = pid_alive(pid) if pid is not None else None
        if alive is False or (alive is None and age > STALE_AFTER_S):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def pid_alive(pid: int) -> bool | None:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, does not); None
    where that cannot be asked safely (on Windows, ``os.kill`` would terminate it). The one
    answer for every "is the writer of this file gone?" (temp files here, decode-cache
    ``.partial`` files, the process layer's tests)."""
    if sys.platform == "win32":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS): kill(pid, 0) said it is there
        return True
    return True


def format_size(n: float) -> str:
    """A byte count as people read it: ``512 bytes``, ``3.4 MB``, ``12.0 GB`` (SI units, as
    file managers show free space), never ``0.0 GB`` for a few megabytes."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"
