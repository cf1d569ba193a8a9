"""Offline face detection for arbitrary photos (OpenCV's Haar cascades, torch-free).

Models trained on CelebA's aligned crops expect a face filling the centre of a square with some
hair and chin around it; a holiday photo does not look like that. The frontal-face Haar cascade
that opencv-python-headless 4.x ships in ``cv2.data`` runs offline in milliseconds on a CPU and
needs no download (the 5.x wheels no longer carry the cascades, so pyproject keeps 4.x). The
boxes are tight around the face; ``ml/framing.py`` turns a box into the framing a run was
trained on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from gender_desktop.errors import UserError

DETECT_SIDE = 800  # detect on a copy no larger than this: fast, and enough for faces >= 40 px
MIN_FACE = 0.06  # faces smaller than this share of the shorter side are ignored


class FaceDetectorUnavailable(UserError):
    """OpenCV (4.x, with its cascades) is not installed."""


# Degrees: when an upright search finds no face, the photo is searched again turned by these
# (a head tilted by more than about 10 degrees escapes the cascade). On the framing benchmark's
# canvases (faces turned up to 10 degrees) this finds 25 more of 240 faces than upright alone.
TILTS = (12.0, -12.0)


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int
    angle: float = 0.0  # the face's clockwise tilt in degrees: found in the photo turned back

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.width, self.height)


_local = threading.local()


def _detector():
    """This thread's cascade. OpenCV's ``CascadeClassifier`` keeps per-call scratch state, so
    one object shared by the predictor's decode threads found faces in blank space, missed real
    ones and failed with assertion errors (issue 8); a cascade per thread (about 20 ms to load,
    once) gives the same boxes for the same image however many requests run at once."""
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        cascade = _local.cascade = _load_cascade()
    return cascade


_import_lock = threading.Lock()


def _opencv():
    """``cv2`` and its cascade folder, imported once under a lock. cv2's bootstrap swaps
    modules in ``sys.modules``, and decode threads importing it at once got a half-made module
    without ``cv2.data``, which read as "no Haar cascades" and failed the whole request. Every
    use of cv2 here goes through this function, so no thread imports it unlocked."""
    with _import_lock:
        try:
            import cv2
        except ImportError as exc:
            raise FaceDetectorUnavailable(
                "face detection needs opencv-python-headless 4.x: pip install "
                "'opencv-python-headless>=4.8,<5'"
            ) from exc
        try:
            from cv2 import data as cv2_data
        except ImportError:
            cv2_data = None
    return cv2, getattr(cv2_data, "haarcascades", None)


def _load_cascade():
    """A new cascade (see :func:`_opencv` for why cv2 is imported under a lock)."""
    cv2, folder = _opencv()
    if not folder:
        raise FaceDetectorUnavailable(
            "this OpenCV has no Haar cascades (5.x wheels dropped them); install "
            "'opencv-python-headless>=4.8,<5'"
        )
    cascade = cv2.CascadeClassifier(folder + "haarcascade_frontalface_default.xml")
    if cascade.empty():
        raise FaceDetectorUnavailable("OpenCV's frontal-face cascade could not be loaded")
    return cascade


def detect_faces(img: Image.Image, tilts: Sequence[float] = ()) -> list[Box]:
    """Face boxes in ``img`` (RGB) in its own pixel coordinates, largest first. When none is
    found upright, the photo is searched turned by each of ``tilts`` in turn (see
    :data:`TILTS`); such boxes are centred on the face in the photo and carry its ``angle``."""
    cascade = _detector()
    cv2, _folder = _opencv()
    scale = min(1.0, DETECT_SIDE / max(img.size))
    small = (
        img
        if scale == 1.0
        else img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR
        )
    )
    gray = cv2.equalizeHist(np.asarray(small.convert("L")))
    side = max(24, int(min(gray.shape) * MIN_FACE))
    found = _search(cascade, gray, side)
    angle = 0.0
    for tilt in tilts:
        if found:
            break
        found, angle = _search_turned(cv2, cascade, gray, side, tilt), tilt
    boxes = [
        Box(round(x / scale), round(y / scale), round(w / scale), round(h / scale), angle)
        for x, y, w, h in found
    ]
    boxes.sort(key=lambda b: -b.width * b.height)
    return boxes


def _search(cascade, gray: np.ndarray, side: int) -> list[tuple[float, float, float, float]]:
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
    return [tuple(float(v) for v in box) for box in (found if len(found) else [])]


def _search_turned(
    cv2, cascade, gray: np.ndarray, side: int, tilt: float
) -> list[tuple[float, float, float, float]]:
    """Boxes found in ``gray`` turned counter-clockwise by ``tilt`` degrees about its centre
    (a face tilted clockwise by that much stands upright there), moved back: the same size,
    centred where the face is in ``gray``."""
    height, width = gray.shape
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), tilt, 1.0)
    turned = cv2.warpAffine(gray, turn, (width, height), borderMode=cv2.BORDER_REPLICATE)
    back = cv2.invertAffineTransform(turn)
    out = []
    for x, y, w, h in _search(cascade, turned, side):
        cx, cy = back @ np.array([x + w / 2, y + h / 2, 1.0])
        out.append((cx - w / 2, cy - h / 2, w, h))
    return out
