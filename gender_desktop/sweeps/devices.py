"""Which GPUs a sweep's workers are pinned to: ``--devices all`` or ``--devices 0,2``.

Each worker process gets one GPU through ``CUDA_VISIBLE_DEVICES`` (CUDA's own way of giving a
process a subset of the devices: the worker's torch then sees exactly one, as ``cuda:0``, and
nothing in the engine needs to know). Indices are the ones this process sees (torch's
``cuda:N``); where ``CUDA_VISIBLE_DEVICES`` already narrows them (``3,5``, or GPU UUIDs), index
0 is its first entry, and the worker gets that entry, so a pinned worker never escapes the
parent's own subset.

Without a CUDA GPU, ``--devices`` is refused (a :class:`UserError`, exit 2) rather than falling
back to the CPU: a user who asks for one trial per GPU expects GPUs, and a silent CPU run would
hide a broken CUDA install for hours. A sweep without ``--devices`` runs one worker on whatever
device the settings choose (the CPU here).
"""

from __future__ import annotations

import math
import os

from gender_desktop.errors import UserError
from gender_desktop.ml import device as devices_probe

ALL = "all"
VISIBLE = "CUDA_VISIBLE_DEVICES"


def visible_ids(count: int) -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` entry of each of the ``count`` GPUs this process sees."""
    given = os.environ.get(VISIBLE)
    if given is None or not given.strip():
        return [str(i) for i in range(count)]
    entries = [e.strip() for e in given.split(",") if e.strip()]
    return (entries + [str(i) for i in range(len(entries), count)])[:count]


def pinned_devices(text: str) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` values, one per worker, for ``--devices text`` (``all`` or a
    list of indices such as ``0,2``). Refuses an index this machine does not have, a repeated
    one, and any of it on a machine without a CUDA GPU."""
    count = devices_probe.gpu_count()
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words:
        raise UserError("--devices: give 'all' or GPU numbers such as 0,2")
    if count == 0:
        raise UserError(
            f"--devices {text}: no CUDA GPU is visible on this machine (torch sees none); "
            "run the sweep without --devices for one worker on the CPU"
        )
    ids = visible_ids(count)
    if words == [ALL]:
        return ids
    chosen: list[int] = []
    for word in words:
        if not word.isdigit():
            raise UserError(f"--devices {text}: {word!r} is not a GPU number (0 to {count - 1})")
        index = int(word)
        if index >= count:
            raise UserError(
                f"--devices {text}: there is no GPU {index}; this machine has {count} "
                f"(0 to {count - 1})"
            )
        if index in chosen:
            raise UserError(f"--devices {text}: GPU {index} is given twice")
        chosen.append(index)
    return [ids[i] for i in chosen]


def parallel_seconds(seconds: float, runs: int, workers: int) -> float:
    """A sweep's wall time with ``workers`` trials at a time, from its one-at-a-time time: the
    runs go in rounds of ``workers`` (3 runs on 2 GPUs take two rounds, not one and a half)."""
    if runs <= 0 or workers <= 1:
        return seconds
    return seconds * math.ceil(runs / workers) / runs
