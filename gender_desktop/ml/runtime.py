"""Which device the engine runs on and how: shared by training, evaluation and prediction.

Mixed precision is decided in one place, :func:`precision`, a pure function of the device,
the run's ``amp`` / ``amp_dtype`` settings and what the GPU has natively: which dtype autocast
uses (None: plain fp32) and whether a grad scaler guards the fp16 gradients. Being pure, every
device/dtype combination is tested on a CPU machine; :func:`autocast` and the trainer's scaler
only carry its answer out, so the CUDA branches run the same code the CPU tests exercise.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from gender_desktop.errors import UserError
from gender_desktop.ml.config import AMP_DTYPES

# CPU autocast is off unless asked: bf16 on a CPU without AMX/AVX512-BF16 is slower than fp32.
# GENDER_DESKTOP_CPU_AMP=bf16 (or fp16) turns it on for "auto" runs, so CI can run the
# mixed-precision path of the whole engine without a GPU.
CPU_AMP_ENV = "GENDER_DESKTOP_CPU_AMP"
_TORCH_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class DeviceUnavailable(UserError):
    """The requested device is not there; the message says so."""


def resolve_device(name: str = "auto") -> torch.device:
    """CUDA where present, else Apple MPS, else CPU; or exactly the device asked for."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("CUDA was requested but PyTorch sees no CUDA device")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def real_bf16(device: torch.device) -> bool:
    """bf16 only where the GPU has it natively (Ampere and newer); emulated bf16 is slow, so
    older GPUs get fp16 (with a grad scaler when training)."""
    return device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)


@dataclass(frozen=True)
class Precision:
    """How a device computes: autocast's dtype (None: fp32, no autocast) and whether the
    optimizer step goes through a grad scaler (fp16 only: its gradients underflow)."""

    dtype: torch.dtype | None
    scaler: bool

    @property
    def name(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, "fp32")  # type: ignore[arg-type]


def precision(
    device_type: str,
    amp: bool,
    amp_dtype: str = "auto",
    native_bf16: bool = False,
    cpu_amp: str = "",
) -> Precision:
    """The one rule for mixed precision.

    CUDA with ``amp``: "auto" is bf16 where the GPU has it natively, else fp16; "bf16" and
    "fp16" force that dtype (fp16 on a bf16 GPU tests the scaler path). CPU: fp32 unless a
    dtype is named, by ``amp_dtype`` or by ``cpu_amp`` (the GENDER_DESKTOP_CPU_AMP switch, for
    "auto"). MPS and anything else: fp32. A scaler exactly when the dtype is fp16."""
    if amp_dtype not in AMP_DTYPES:
        raise ValueError(f"amp_dtype must be one of {', '.join(AMP_DTYPES)}, not {amp_dtype!r}")
    if not amp or device_type not in ("cuda", "cpu"):
        return Precision(None, False)
    chosen = amp_dtype
    if chosen == "auto":
        if device_type == "cuda":
            chosen = "bf16" if native_bf16 else "fp16"
        else:
            chosen = cpu_amp if cpu_amp in _TORCH_DTYPES else "fp32"
    dtype = _TORCH_DTYPES.get(chosen)
    return Precision(dtype, dtype is torch.float16)


def device_precision(device: torch.device, amp: bool, amp_dtype: str = "auto") -> Precision:
    """:func:`precision` for a real device (its native bf16, the CPU switch read now)."""
    cpu_amp = os.environ.get(CPU_AMP_ENV, "").strip().lower()
    return precision(device.type, amp, amp_dtype, real_bf16(device), cpu_amp)


def autocast(device: torch.device, enabled: bool = True, amp_dtype: str = "auto"):
    """Mixed precision as :func:`precision` decides (bf16 or fp16 on CUDA, CPU when asked);
    a no-op where it says fp32."""
    chosen = device_precision(device, enabled, amp_dtype)
    if chosen.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=chosen.dtype)


def grad_scaler(device: torch.device, chosen: Precision) -> torch.amp.GradScaler:
    """The optimizer step's scaler: active for fp16, a pass-through otherwise (the same
    ``scale / step / update`` calls either way, so one training step serves both). A disabled
    one is made for "cuda" as before: it touches no device, and torch versions before CPU
    grad scaling accept it for every device."""
    return torch.amp.GradScaler(device.type if chosen.scaler else "cuda", enabled=chosen.scaler)
