"""One safe image decoder: every kind of bad file becomes an ImageError naming the file."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gender_desktop.data.images import ImageError, decode, thumbnail


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    out = decode(encoded(img, "JPEG", exif=exif), "rotated.jpg")
    assert out.size == (20, 40)


@pytest.mark.parametrize(
    "img, fmt",
    [
        (Image.new("CMYK", (10, 10), (0, 255, 255, 0)), "JPEG"),
        (Image.new("RGBA", (10, 10), (255, 0, 0, 0)), "PNG"),
        (Image.new("P", (10, 10), 3), "PNG"),
        (Image.new("L", (10, 10), 128), "PNG"),
    ],
)
def test_any_mode_becomes_rgb(img: Image.Image, fmt: str) -> None:
    out = decode(encoded(img, fmt), "x")
    assert out.mode == "RGB" and out.size == (10, 10)


def test_transparent_pixels_become_white() -> None:
    out = decode(encoded(Image.new("RGBA", (4, 4), (255, 0, 0, 0)), "PNG"), "alpha.png")
    assert out.getpixel((0, 0)) == (255, 255, 255)


def test_16_bit_png_keeps_its_range() -> None:
    arr = np.full((4, 4), 65535, dtype=np.uint16)
    arr[0, 0] = 0
    out = decode(encoded(Image.fromarray(arr), "PNG"), "deep.png")
    assert out.getpixel((1, 1)) == (255, 255, 255) and out.getpixel((0, 0)) == (0, 0, 0)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"hello, not an image", "not an image"),
        (encoded(Image.new("RGB", (64, 64), "blue"), "JPEG")[:200], "truncated or corrupt"),
    ],
)
def test_bad_files_raise_a_named_error(data: bytes, reason: str) -> None:
    with pytest.raises(ImageError) as info:
        decode(data, "photo.jpg")
    assert info.value.name == "photo.jpg" and reason in info.value.reason


def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encoded(Image.new("RGB", (300, 300)), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(ImageError, match="decompression bomb"):
        decode(data, "bomb.png")


def test_thumbnail_fits_the_box() -> None:
    out = thumbnail(encoded(Image.new("RGB", (178, 218), "green"), "JPEG"), "t.jpg", 96)
    assert max(out.size) == 96 and out.size[0] < 96
