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
from dataclasses import dataclass

import numpy as np
from PIL import Image

from gender_desktop.errors import UserError

DETECT_SIDE = 800  # detect on a copy no larger than this: fast, and enough for faces >= 40 px
MIN_FACE = 0.06  # faces smaller than this share of the shorter side are ignored


class FaceDetectorUnavailable(UserError):
    """OpenCV (4.x, with its cascades) is not installed."""


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int

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


def detect_faces(img: Image.Image) -> list[Box]:
    """Face boxes in ``img`` (RGB) in its own pixel coordinates, largest first."""
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
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
    boxes = [
        Box(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
        for x, y, w, h in (found if len(found) else [])
    ]
    boxes.sort(key=lambda b: -b.width * b.height)
    return boxes
