"""Grad-CAM overlays (Evaluate gallery and Predict panel): a jet colour map blended over the
model's input square, shown inside the whole picture so the image keeps its aspect.

The model sees the centre square of an image (``data.images.square``); the engine's ``grad_cam``
reply carries that square, its heat map and, as ``full``, the picture it was cut from.
:func:`overlay_result` colours the square where it lies in the picture and dims the rest (the
parts the model never saw), instead of showing a portrait photo as a square crop.

Plain numpy on a 224 px square costs about a millisecond, so the GUI thread can do it when a
``grad_cam`` reply arrives; the heavy part (the backward pass) ran in the engine child.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

ALPHA = 0.45  # the usual Grad-CAM blend: the face stays readable under the colours


def _jet() -> np.ndarray:
    """The 256-entry jet lookup table (blue, cyan, yellow, red): what Grad-CAM papers and
    tutorials use, so users read it without a legend."""
    x = np.linspace(0.0, 1.0, 256)
    channels = [np.clip(1.5 - np.abs(4.0 * x - k), 0.0, 1.0) for k in (3.0, 2.0, 1.0)]
    return (np.stack(channels, axis=1) * 255.0 + 0.5).astype(np.uint8)


JET = _jet()


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """``image`` (HxWx3 uint8) with ``heat`` (HxW uint8, 255 = strongest evidence) coloured
    over it. A heat map of another size is resampled to the image (nearest, it is smooth)."""
    if heat.shape[:2] != image.shape[:2]:
        rows = np.arange(image.shape[0]) * heat.shape[0] // image.shape[0]
        cols = np.arange(image.shape[1]) * heat.shape[1] // image.shape[1]
        heat = heat[rows][:, cols]
    colours = JET[heat.astype(np.uint8)]
    blended = image.astype(np.float32) * (1.0 - alpha) + colours.astype(np.float32) * alpha
    return (blended + 0.5).clip(0, 255).astype(np.uint8)


OUTSIDE = 0.45  # brightness of the parts of a picture outside the model's square


def model_square(height: int, width: int) -> tuple[int, int, int]:
    """(top, left, side) of the centre square the model sees in a ``height`` x ``width``
    picture: the same crop as ``data.images.square`` (shorter side, centred)."""
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side


def overlay_in_picture(picture: np.ndarray, heat: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """The whole ``picture`` (HxWx3 uint8) with ``heat`` coloured over the model's centre
    square and the rest dimmed: the aspect of the image is kept."""
    top, left, side = model_square(*picture.shape[:2])
    out = (picture.astype(np.float32) * OUTSIDE + 0.5).astype(np.uint8)
    inside = picture[top : top + side, left : left + side]
    out[top : top + side, left : left + side] = overlay(inside, heat, alpha)
    return out


def overlay_result(result: dict) -> np.ndarray:
    """The overlay of a ``grad_cam`` reply: over the whole picture when the reply carries it
    (``full``), else over the model's square."""
    heat = np.asarray(result["heat"])
    full = result.get("full")
    if full is not None:
        return overlay_in_picture(np.asarray(full), heat)
    return overlay(np.asarray(result["image"]), heat)


def to_qimage(array: np.ndarray) -> QImage:
    """A deep-copied RGB888 QImage of an HxWx3 uint8 array (the array may be freed after)."""
    block = np.ascontiguousarray(array, dtype=np.uint8)
    height, width = block.shape[:2]
    return QImage(block.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def legend(width: int = 256, height: int = 10) -> np.ndarray:
    """A horizontal colour bar (low evidence left, high right) for the detail pane."""
    row = JET[np.linspace(0, 255, width).astype(np.uint8)]
    return np.ascontiguousarray(np.repeat(row[None], height, axis=0))
