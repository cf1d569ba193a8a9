"""Batched JPEG decoding on the GPU (nvjpeg, through torchvision) for building the decode cache.

On a GPU machine the one-time decode of a large dataset is bound by the CPU's JPEG decoders
(about 480 images/s a core); nvjpeg decodes a batch of JPEGs in one call many times faster.
torchvision's ``decode_jpeg(list, device="cuda")`` is the well-kept binding to it, so this
module only chooses which files go there and shapes the result exactly as the CPU path does
(:func:`gender_desktop.data.images.square`: shorter side to ``size``, centre square, uint8
HxWx3). Whatever nvjpeg cannot take the CPU decodes, as before: other formats, JPEGs with EXIF
data (torchvision applies the orientation on the CPU only), headers claiming too many pixels
(the CPU path's decompression-bomb refusal then names them), and any chunk nvjpeg rejects.
Pixels differ from Pillow's by a few levels (another IDCT and resampler); the tests bound it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from gender_desktop.data.images import decode_chunk, too_many_pixels

GPU_DECODE_ENV = "GENDER_DESKTOP_GPU_DECODE"  # "0": decode on the CPU workers even with CUDA
_HEAD = 65_536  # bytes searched for an EXIF block and the frame header
Item = tuple[int, bytes, str]  # position in the dataset, the file's bytes, its name


def wanted(device: torch.device | str | None) -> bool:
    """Decode on the GPU: the run trains on a CUDA ``device`` (a CPU run on a GPU machine does
    not touch the GPU), torchvision has its image ops, and it is not switched off."""
    if device is None or torch.device(device).type != "cuda":
        return False
    if os.environ.get(GPU_DECODE_ENV, "1").strip() == "0" or not torch.cuda.is_available():
        return False
    try:
        from torchvision.io import decode_jpeg  # noqa: F401
    except (ImportError, RuntimeError):
        return False
    return True


def gpu_decodable(data: bytes) -> bool:
    """A JPEG without EXIF data whose header size passes the pixel limit."""
    head = data[:_HEAD]
    return head.startswith(b"\xff\xd8\xff") and b"Exif" not in head and not too_many_pixels(head)


def square_tensor(img: torch.Tensor, size: int) -> torch.Tensor:
    """CHW uint8 to the model's CHW uint8 ``size`` square, computed as
    :func:`~gender_desktop.data.images.square` does (bilinear with antialiasing when shrinking,
    Pillow's filter; the same rounding and centre crop)."""
    h, w = img.shape[-2:]
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    x = F.interpolate(
        img.unsqueeze(0).float(),
        (new_h, new_w),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )[0]
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return x[:, top : top + size, left : left + size].round_().clamp_(0, 255).to(torch.uint8)


def decode_chunk_on(
    items: list[Item],
    size: int,
    device: torch.device | str = "cuda",
    cpu: Callable[[list[Item]], list[tuple[int, np.ndarray | str]]] | None = None,
) -> list[tuple[int, np.ndarray | str]]:
    """:func:`~gender_desktop.data.images.decode_chunk`'s answer for ``items`` (position, then
    the square array or the reason it failed), the JPEGs decoded in one batch on ``device``;
    the rest by ``cpu`` (the decode workers) or, without it, here."""
    from torchvision.io import ImageReadMode, decode_jpeg

    batch = [item for item in items if gpu_decodable(item[1])]
    rest = [item for item in items if not gpu_decodable(item[1])]
    out: list[tuple[int, np.ndarray | str]] = []
    if batch:
        data = [torch.from_numpy(np.frombuffer(d, dtype=np.uint8).copy()) for _, d, _ in batch]
        try:
            with warnings.catch_warnings():  # torchvision's notice that torchcodec exists
                warnings.simplefilter("ignore")
                images = decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
            squares = torch.stack([square_tensor(img, size) for img in images])
            arrays = squares.permute(0, 2, 3, 1).contiguous().cpu().numpy()
            out = [(pos, arrays[k]) for k, (pos, _, _) in enumerate(batch)]
        except (RuntimeError, ValueError, TypeError):  # refused (TypeError: a torchvision
            # before 0.19 takes no list): the CPU decodes
            rest = batch + rest
    if rest:
        out += cpu(rest) if cpu is not None else decode_chunk((rest, size))
    return sorted(out, key=lambda result: result[0])
