"""Grad-CAM overlays (Evaluate gallery and Predict panel): a jet colour map blended over the
model's input square.

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


def to_qimage(array: np.ndarray) -> QImage:
    """A deep-copied RGB888 QImage of an HxWx3 uint8 array (the array may be freed after)."""
    block = np.ascontiguousarray(array, dtype=np.uint8)
    height, width = block.shape[:2]
    return QImage(block.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def legend(width: int = 256, height: int = 10) -> np.ndarray:
    """A horizontal colour bar (low evidence left, high right) for the detail pane."""
    row = JET[np.linspace(0, 255, width).astype(np.uint8)]
    return np.ascontiguousarray(np.repeat(row[None], height, axis=0))
