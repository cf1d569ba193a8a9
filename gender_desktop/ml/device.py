"""Which compute device the app will use, in words for the status bar.

Importing torch takes seconds and, while it loads its shared libraries, holds the GIL: done in
the GUI process it would freeze scrolling. :func:`probe_device` therefore asks a short-lived
child process; training imports torch itself when it starts.
"""

from __future__ import annotations

import subprocess
import sys

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


def probe_device() -> str:
    """:func:`describe_device` from a child process (in-process in a frozen app, which has no
    interpreter to start)."""
    if getattr(sys, "frozen", False):
        return describe_device()
    code = "from gender_desktop.ml.device import describe_device; print(describe_device())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise RuntimeError(f"torch could not be loaded: {last}")
    return done.stdout.strip().splitlines()[-1]
