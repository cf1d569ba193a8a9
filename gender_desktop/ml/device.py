"""Which compute device the app will use, in words for the status bar.

Importing torch takes seconds and, while it loads its shared libraries, holds the GIL: done in
the GUI process it would freeze scrolling. :func:`probe_device` therefore asks a short-lived
child process; training imports torch itself when it starts.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from gender_desktop.errors import Cancelled

PROBE_TIMEOUT_S = 120


def describe_device() -> str:
    """ "CUDA · <GPU name>", "Apple MPS" or "CPU (<n> threads)": the device training will use."""
    import torch

    if torch.cuda.is_available():
        return f"CUDA · {torch.cuda.get_device_name(0)}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def probe_device(cancel: threading.Event | None = None) -> str:
    """:func:`describe_device` from a child process (in-process in a frozen app, which has no
    interpreter to start). Setting ``cancel`` kills the child, so closing the app never waits
    for torch to finish loading."""
    if getattr(sys, "frozen", False):
        return describe_device()
    code = "from gender_desktop.ml.device import describe_device; print(describe_device())"
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    while True:
        try:
            out, err = child.communicate(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            if (cancel is not None and cancel.is_set()) or time.monotonic() > deadline:
                child.kill()
                child.communicate()
                if cancel is not None and cancel.is_set():
                    raise Cancelled() from None
                raise RuntimeError("the device probe timed out") from None
    if child.returncode != 0:
        last = (err.strip().splitlines() or ["unknown error"])[-1]
        raise RuntimeError(f"torch could not be loaded: {last}")
    return out.strip().splitlines()[-1]
