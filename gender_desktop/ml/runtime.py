"""Which device the engine runs on and how: shared by training, evaluation and prediction."""

from __future__ import annotations

import contextlib

import torch

from gender_desktop.errors import UserError


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


def autocast(device: torch.device, enabled: bool = True):
    """Mixed precision on CUDA (bf16 or fp16); a no-op elsewhere."""
    if device.type == "cuda" and enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16 if real_bf16(device) else torch.float16)
    return contextlib.nullcontext()
