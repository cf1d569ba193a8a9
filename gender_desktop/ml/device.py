"""Which compute device the app will use, in words for the status bar.

Importing torch takes seconds and, while it loads its shared libraries, holds the GIL: done in
the GUI process it would freeze scrolling. :func:`probe_device` therefore asks a short-lived
child process through the one process layer; training imports torch itself when it starts.
"""

from __future__ import annotations

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

    count = gpu_count()
    if count:
        return f"CUDA · {torch.cuda.get_device_name(0)}" + (
            f" {GPUS_MARK}{count}" if count > 1 else ""
        )
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


GPUS_MARK = "×"  # "CUDA · NVIDIA H200 ×8": the probe's text names how many GPUs are visible


def gpu_count() -> int:
    """The CUDA GPUs this process sees (after ``CUDA_VISIBLE_DEVICES``), 0 without CUDA: the
    one count the sweep's ``--devices all`` and the GUI's "one trial per GPU" go by (tests
    monkeypatch it). Imports torch."""
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def gpus_in(device_text: str) -> int:
    """How many GPUs a probe's text (:func:`describe_device`) names, without torch: the GUI
    reads its status-bar text. 0 for a CPU or MPS text, 1 for one GPU."""
    if not device_text.startswith("CUDA"):
        return 0
    _, mark, count = device_text.rpartition(f" {GPUS_MARK}")
    return int(count) if mark and count.isdigit() else 1


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
