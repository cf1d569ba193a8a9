"""Which compute device the app will use, in words for the status bar.

torch is imported lazily: it takes a second or two to load, and the browser must not wait for it.
"""

from __future__ import annotations


def describe_device() -> str:
    """ "CUDA · <GPU name>", "Apple MPS" or "CPU (<n> threads)": the device training will use."""
    import torch

    if torch.cuda.is_available():
        return f"CUDA · {torch.cuda.get_device_name(0)}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
