"""Which compute device the app will use, in words for the status bar.

Importing torch takes seconds and, while it loads its shared libraries, holds the GIL: done in
the GUI process it would freeze scrolling. :func:`probe_device` therefore asks a short-lived
child process through the one process layer; training imports torch itself when it starts.
"""

from __future__ import annotations

import re
import threading

from gender_desktop.errors import UserError
from gender_desktop.procs import ChildDied, Job, call

PROBE_TIMEOUT_S = 120


class DeviceProbeFailed(UserError):
    """The device could not be found out; the message says why (shown as "Device: unknown
    (why)"), without the internal-error treatment: a broken torch install is not a bug."""


def describe_device() -> str:
    """ "CUDA · <GPU name>", "Apple MPS" or "CPU (<n> threads)": the device training will use."""
    try:
        import torch
    except (ImportError, OSError) as exc:  # a broken install, or a bundle that left it out
        raise DeviceProbeFailed(f"torch could not be loaded: {exc}") from exc

    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        name = torch.cuda.get_device_name(0)
        return f"CUDA · {count} × {name}" if count > 1 else f"CUDA · {name}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def cuda_count(text: str) -> int:
    """How many CUDA GPUs a :func:`describe_device` text names (0 for none): the Train
    panel offers "All N GPUs (DDP)" from it without importing torch into the GUI."""
    if not text.startswith("CUDA · "):
        return 0
    many = re.match(r"CUDA · (\d+) × ", text)
    return int(many.group(1)) if many else 1


class DeviceService:
    """The probe's service in its child (see ``gender_desktop.procs``): one ``describe``."""

    def handle(self, job: Job) -> str:
        return describe_device()


def probe_device(cancel: threading.Event | None = None) -> str:
    """:func:`describe_device` from a short-lived child process (the one process layer).
    Setting ``cancel`` ends the child at once, so closing the app never waits for torch to
    finish loading (:class:`Cancelled` is raised). Any failure is a
    :class:`DeviceProbeFailed` saying what happened."""
    try:
        return call(
            "gender_desktop.ml.device:DeviceService",
            "device probe",
            "describe",
            timeout_s=PROBE_TIMEOUT_S,
            cancel=cancel,
        )
    except TimeoutError:
        raise DeviceProbeFailed("the device probe timed out") from None
    except ChildDied as exc:
        raise DeviceProbeFailed(f"torch could not be loaded: {exc}") from None
    except RuntimeError as exc:  # the child's own failure, already in words
        raise DeviceProbeFailed(str(exc)) from None
