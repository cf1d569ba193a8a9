"""What a run folder says about itself besides its training: its status and the user's notes.

``status.json`` is written by the trainer: ``running`` when the run's folder is made, then
``finished``, ``stopped``, ``pruned`` (a sweep ended it early) or ``failed`` (with the
message). A run whose file still says ``running`` while its process is gone was
``interrupted`` (a crash, a kill, a power cut): that state is derived when read, never
written, so a reader on another machine does not mark a live run dead (the host is compared).

``meta.json`` holds what the user and the experiment tools add: a display title, tags, a
note, and the sweep or cross-validation the run belongs to. It is the only file of a run
that is rewritten after training; the training files are never touched for a rename.

Both are small JSON objects written atomically; a damaged one reads as empty (the run's
training files are what matters), never as an error that hides the run.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gender_desktop.data.sources import read_regular
from gender_desktop.errors import UserError
from gender_desktop.fileio import atomic_write_json, pid_alive

STATUS = "status.json"
META = "meta.json"
MAX_BYTES = 1 << 20

RUNNING, FINISHED, STOPPED, PRUNED, FAILED, INTERRUPTED = (
    "running",
    "finished",
    "stopped",
    "pruned",
    "failed",
    "interrupted",
)
STATES = (RUNNING, FINISHED, STOPPED, PRUNED, FAILED, INTERRUPTED)


def _read_object(file: Path) -> dict[str, Any]:
    """A small JSON object, or {} when the file is missing, damaged or not an object."""
    try:
        value = json.loads(read_regular(file, MAX_BYTES).decode("utf-8"))
    except (OSError, UserError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


# -- status -------------------------------------------------------------------------------------
@dataclass
class RunStatus:
    state: str = ""  # one of STATES; "" when the run has no status.json (older versions)
    message: str = ""  # why it failed or stopped
    pid: int = 0
    host: str = ""
    updated: str = ""  # ISO time of the last write

    @property
    def known(self) -> bool:
        return bool(self.state)


def write_status(folder: Path, state: str, message: str = "") -> None:
    """Record ``state`` for the run in ``folder`` (the folder must exist)."""
    if state not in STATES or state == INTERRUPTED:
        raise ValueError(f"not a state a run writes: {state!r}")
    atomic_write_json(
        Path(folder) / STATUS,
        {
            "state": state,
            "message": message,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )


def read_status(folder: Path) -> RunStatus:
    """The run's status; ``running`` becomes ``interrupted`` when the writing process is gone
    (checked only on the host that wrote it)."""
    raw = _read_object(Path(folder) / STATUS)
    state = raw.get("state")
    if state not in STATES:
        return RunStatus()
    status = RunStatus(
        state,
        str(raw.get("message") or ""),
        raw.get("pid") if isinstance(raw.get("pid"), int) else 0,
        str(raw.get("host") or ""),
        str(raw.get("updated") or ""),
    )
    if state == RUNNING and status.host == socket.gethostname() and pid_alive(status.pid) is False:
        status.state = INTERRUPTED
    return status


# -- user notes and membership -------------------------------------------------------------------
@dataclass
class RunMeta:
    title: str = ""  # the name shown; "" shows the folder name (folders are never renamed)
    tags: list[str] = field(default_factory=list)
    note: str = ""
    # {"study": name, "storage": URL without password, "trial": number} for a sweep's trial
    sweep: dict[str, Any] = field(default_factory=dict)
    # {"group": id shared by the folds, "fold": k (0-based), "folds": n} for cross-validation
    cv: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_meta(folder: Path) -> RunMeta:
    raw = _read_object(Path(folder) / META)
    meta = RunMeta()
    if isinstance(raw.get("title"), str):
        meta.title = raw["title"][:200]
    if isinstance(raw.get("tags"), list):
        meta.tags = [t[:60] for t in raw["tags"] if isinstance(t, str) and t.strip()][:50]
    if isinstance(raw.get("note"), str):
        meta.note = raw["note"][:20_000]
    for key in ("sweep", "cv"):
        if isinstance(raw.get(key), dict):
            setattr(meta, key, raw[key])
    return meta


def update_meta(folder: Path, **changes: Any) -> RunMeta:
    """Change some fields of ``meta.json`` (title, tags, note, sweep, cv) and write it whole.
    An unwritable folder raises the OSError (callers turn it into a message)."""
    meta = read_meta(folder)
    for key, value in changes.items():
        if not hasattr(meta, key):
            raise TypeError(f"meta.json has no field {key!r}")
        setattr(meta, key, value)
    atomic_write_json(Path(folder) / META, meta.to_dict())
    return meta
