"""Speed options of a training run that only a GPU can judge: ``torch.compile`` and the
largest batch that fits. Both are off by default (``TrainConfig.compile``,
``TrainConfig.auto_batch_size``) until a GPU check has measured them (docs/benchmarks.md).

The batch probe runs real forward and backward steps on the run's own model at the run's own
input size and precision, because only the allocator knows what fits: activation memory
depends on the backbone, the scope (what keeps gradients), the dtype and cuDNN's workspace.
It leaves the model as it found it: no optimizer step runs and the buffers (BatchNorm's
running statistics) are put back.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gender_desktop.ml.config import AUTO_BATCH_CAP

# The share of the GPU's memory a probe step may peak at. The probe runs no optimizer step, so
# the optimizer's state (Adam: twice the trainable weights, about 1 GB for the whole of VGG16)
# and the batcher's buffers come later; a size that only just fits the probe would run out of
# memory at the first real step.
PROBE_HEADROOM = 0.8
CPU_AUTO_BATCH = 64  # a CPU gains nothing from bigger batches; memory is not what limits it
COMPILE_BACKEND_ENV = "GENDER_DESKTOP_COMPILE_BACKEND"  # tests pick a cheap backend ("eager")


def compile_model(model: nn.Module, backend: str | None = None) -> nn.Module:
    """``model`` compiled in place (``nn.Module.compile``: its state_dict keys and checkpoints
    stay the same as an uncompiled run's). The backend is torch's default (inductor) unless
    ``backend`` or the GENDER_DESKTOP_COMPILE_BACKEND variable names another."""
    import os

    chosen = backend or os.environ.get(COMPILE_BACKEND_ENV) or "inductor"
    model.compile(backend=chosen)
    return model


def largest_batch(
    step: Callable[[int], None],
    device: torch.device,
    limit: int,
    start: int = 8,
    cap: int = AUTO_BATCH_CAP,
) -> int:
    """The largest batch (doubling from ``start``, at most ``cap`` and ``limit``, the train
    split's size) for which ``step(n)`` runs without CUDA running out of memory; on CPU
    :data:`CPU_AUTO_BATCH` (capped the same way) without probing. ``step`` is one real
    forward+backward pass of a batch of ``n``."""
    top = max(1, min(cap, limit))
    if device.type != "cuda":
        return min(CPU_AUTO_BATCH, top)

    total = torch.cuda.get_device_properties(device).total_memory

    def synced(n: int) -> None:
        torch.cuda.reset_peak_memory_stats(device)
        step(n)
        torch.cuda.synchronize(device)
        if torch.cuda.max_memory_allocated(device) > PROBE_HEADROOM * total:
            raise torch.cuda.OutOfMemoryError(
                f"a batch of {n} peaks above {PROBE_HEADROOM:.0%} of the GPU's memory"
            )

    return doubling(synced, min(start, top), top, torch.cuda.empty_cache)


def doubling(step: Callable[[int], None], start: int, top: int, tidy=lambda: None) -> int:
    """The last size, doubling from ``start`` up to ``top``, at which ``step`` did not raise
    ``torch.cuda.OutOfMemoryError`` (the one the allocator raises); ``tidy`` runs after each
    try (freeing the cached blocks). Not even ``start`` fitting re-raises that error."""
    good, n = 0, start
    while True:
        try:
            step(n)
        except torch.cuda.OutOfMemoryError:
            if good == 0:
                raise
            break
        finally:
            tidy()
        good = n
        if n >= top:
            return good
        n = min(n * 2, top)
    return good


def probe_step(model: nn.Module, batcher_normalise, size: int, device: torch.device, autocast):
    """A ``step(n)`` for :func:`largest_batch`: a forward and backward pass of ``n`` random
    images through ``model`` (train mode, the run's autocast), the model's buffers restored
    after and its gradients cleared, so the run starts as if no probe had run."""

    def step(n: int) -> None:
        buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
        try:
            x = torch.randint(0, 256, (n, 3, size, size), device=device, dtype=torch.uint8)
            with autocast():
                logits = model(batcher_normalise(x))
            logits.float().sum().backward()
        finally:
            model.zero_grad(set_to_none=True)
            with torch.no_grad():
                for k, v in model.named_buffers():
                    v.copy_(buffers[k])

    return step
