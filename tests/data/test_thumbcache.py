"""Thumbnails cached on disk come back across instances (app restarts)."""

from __future__ import annotations

from PIL import Image

from gender_desktop.data.thumbcache import ThumbnailCache


def test_thumbnail_round_trip_survives_a_new_instance() -> None:
    cache = ThumbnailCache("abc", 96)
    assert cache.get("000001.jpg") is None
    cache.put("000001.jpg", Image.new("RGB", (80, 96), (250, 10, 10)))
    cache.close()
    again = ThumbnailCache("abc", 96)
    img = again.get("000001.jpg")
    assert img is not None and img.size == (80, 96) and img.getpixel((5, 5))[0] > 200
    assert again.path.parent.name == "thumbnails"
    again.close()
