"""The one way images are decoded: safe against bad files, orientation-correct, always RGB.

Every decode applies the EXIF orientation, converts any mode (CMYK, palette, 16-bit, alpha) to
8-bit RGB, keeps Pillow's decompression-bomb limit as a hard error, and turns every failure into
an :class:`ImageError` that names the file, so one bad image never takes a batch down.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gender_desktop.errors import UserError

# Pillow's default (about 89 megapixels) is kept; above it the warning becomes an error below.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS


class ImageError(UserError):
    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        super().__init__(reason, file=name)


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any Pillow mode; transparent areas become white, 16-bit keeps its range."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.uint32)
        peak = 65535 if img.mode.startswith("I;16") else max(int(arr.max()), 1)
        gray = (arr * 255 // peak).clip(0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def decode(data: bytes, name: str, max_side: int | None = None) -> Image.Image:
    """Decode ``data`` to an RGB image; ``max_side`` lets JPEG decode at reduced scale (fast)."""
    if not data:
        raise ImageError(name, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if max_side and img.format == "JPEG":
                img.draft("RGB", (max_side, max_side))
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            name, f"refused: too many pixels (decompression bomb guard): {exc}"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(name, "not an image Pillow can read") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(name, f"truncated or corrupt ({exc})") from exc


def thumbnail(data: bytes, name: str, size: int) -> Image.Image:
    img = decode(data, name, max_side=size)
    img.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return img


_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"BM", "bmp"),
    (b"RIFF", "webp"),
)


def quick_check(head: bytes, tail: bytes, size: int) -> str | None:
    """A cheap integrity test from a file's first and last bytes (no decode): the reason it is
    broken, or None. Catches empty files, non-images and truncated JPEG/PNG downloads."""
    if size == 0:
        return "empty file (0 bytes)"
    kind = next((k for magic, k in _MAGIC if head.startswith(magic)), None)
    if kind is None:
        return "not an image (unknown file signature)"
    if kind == "jpeg" and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker)"
    if kind == "png" and b"IEND" not in tail:
        return "truncated PNG (no IEND chunk)"
    if kind == "webp" and head[8:12] != b"WEBP":
        return "not an image (RIFF but not WebP)"
    return too_many_pixels(head)


def too_many_pixels(head: bytes) -> str | None:
    """The decode's decompression-bomb refusal, told from the header alone: a small file that
    claims more pixels than :data:`MAX_PIXELS` is flagged before anything tries to decode it.
    None when the size is fine or not in ``head`` (the decode still refuses it later).

    The sizes are read straight from the header bytes: opening every file with Pillow would
    cost 75 us an image, 15 s more to check all of CelebA."""
    size = header_size(head)
    if size is None or size[0] * size[1] <= MAX_PIXELS:
        return None
    width, height = size
    return (
        f"refused: too many pixels ({width:,} x {height:,}; at most {MAX_PIXELS:,} are decoded, "
        "a decompression bomb guard)"
    )


_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def stored_size(data: bytes, img: Image.Image) -> tuple[int, int]:
    """The size of the image in file ``data`` that decoded to ``img``: its header's, turned as
    the decoder turned it (EXIF), when a JPEG was decoded at a reduced scale; else ``img``'s."""
    size = header_size(data[:65536])
    if size is None or min(size) <= 0:
        return img.size
    turned = (img.width > img.height) != (size[0] > size[1])
    return (size[1], size[0]) if turned else size


def header_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG, PNG, BMP or WebP header, or None if ``head`` lacks it."""
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        if head.startswith(b"BM") and len(head) >= 26:
            width = int.from_bytes(head[18:22], "little", signed=True)
            return abs(width), abs(int.from_bytes(head[22:26], "little", signed=True))
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(head)
    except IndexError:
        return None
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    if chunk == b"VP8 " and len(head) >= 30:
        return (
            int.from_bytes(head[26:28], "little") & 0x3FFF,
            int.from_bytes(head[28:30], "little") & 0x3FFF,
        )
    if chunk == b"VP8L" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    """Walk the JPEG markers to the frame header (SOFn), which holds the size."""
    pos = 2
    while pos + 9 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_SOF:
            return int.from_bytes(head[pos + 7 : pos + 9], "big"), int.from_bytes(
                head[pos + 5 : pos + 7], "big"
            )
        if marker == 0xDA:  # start of scan without a frame header: not a JPEG to trust
            return None
        pos += 2 + int.from_bytes(head[pos + 2 : pos + 4], "big")
    return None


# Used by the training cache's decode workers: kept here, away from torch, so a worker process
# started with "spawn" (macOS, Windows) does not import torch just to decode JPEGs.
def load_square(data: bytes, name: str, size: int) -> np.ndarray:
    """Decode, resize the shorter side to ``size`` and keep the centre square: HxWx3 uint8."""
    return square(decode(data, name, max_side=size * 2), size)


def square(img: Image.Image, size: int) -> np.ndarray:
    """The model's view of an RGB image: shorter side to ``size``, centre square, uint8 HxWx3.
    Training, evaluation and prediction all go through here, so they see images alike."""
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def decode_chunk(
    args: tuple[list[tuple[int, bytes, str]], int],
) -> list[tuple[int, np.ndarray | str]]:
    items, size = args
    out: list[tuple[int, np.ndarray | str]] = []
    for pos, data, name in items:
        try:
            out.append((pos, load_square(data, name, size)))
        except ImageError as exc:
            out.append((pos, exc.reason))
        except Exception as exc:  # noqa: BLE001 - one bad image never aborts the build
            out.append((pos, f"cannot be decoded ({exc})"))
    return out
