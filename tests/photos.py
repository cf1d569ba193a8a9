"""Photos for face detection: drawn demo faces that OpenCV's cascade finds, images without a
face (blank, noise), as the Predict panel meets them, and a drawn face whose eyes OpenCV's eye
cascade finds (:func:`eye_face`)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from gender_desktop.data.demo import draw_face


def face_photos() -> list[Image.Image]:
    """Four photos with one findable face each (1x, 3x, and on larger canvases), then a blank
    white one and a noisy one without a face."""
    out = []
    for seed, scale, canvas in ((7, 1, 0), (7, 3, 0), (7, 2, 500), (12, 2, 800)):
        face, _ = draw_face(np.random.default_rng(seed), male=seed % 2 == 0)
        face = face.resize((face.width * scale, face.height * scale))
        if canvas:
            framed = Image.new("RGB", (canvas, canvas), face.getpixel((0, 0)))
            framed.paste(face, (20, 30))
            face = framed
        out.append(face)
    out.append(Image.new("RGB", (1024, 768), (255, 255, 255)))
    noise = np.random.default_rng(0).integers(0, 256, (500, 700, 3), dtype=np.uint8)
    out.append(Image.fromarray(noise))
    return out


EyePair = tuple[tuple[float, float], tuple[float, float]]
SUPERSAMPLE = 4  # drawn at 4x and shrunk: smooth edges, sub-pixel eye positions


def _shade(
    shape: tuple[int, int], centre: tuple[float, float], spread: tuple[float, float]
) -> np.ndarray:
    """A Gaussian bump (1 at ``centre``) over an image of ``shape`` (height, width)."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.exp(-(((x - centre[0]) / spread[0]) ** 2 + ((y - centre[1]) / spread[1]) ** 2) / 2)


def eye_face(
    gap: float = 44.0,
    skin: tuple[int, int, int] = (205, 160, 130),
    centre: tuple[float, float] | None = None,
    size: tuple[int, int] | None = None,
) -> tuple[Image.Image, EyePair]:
    """A drawn face on which OpenCV's eye cascade finds both eyes, and the drawn eye centres
    (left, right) in its pixels. ``gap``: the eyes' distance in px; ``centre``: the point
    between them (default: mid-width, 45 % down).

    The demo's 14 x 8 px ellipse eyes are never found: the eye cascade keys on the dark socket
    between a dark brow and a light cheek. So each eye has a shaded socket (the skin darkened
    by a Gaussian), a white almond, a brown iris, a black pupil and a dark upper lid, under a
    thick brow; a nose shadow and a mouth complete a face the frontal cascade also finds (on
    light skin: it misses a darker one on this grey ground). Measured over 24 variants (three
    skins, sub-pixel shifts): eyes 44 px apart are found within 3.6 px of their centres. The
    cascade's few-pixel jitter tilts the found pair: up to 4.5 degrees at 44-60 px apart, up to
    2.1 at 72 px (48 variants turned by 10-12 degrees), so leveling is tested at 72 px."""
    width, height = size or (round(gap * 5.5), round(gap * 6.6))
    cx, cy = centre or (width / 2, height * 0.45)
    s = SUPERSAMPLE
    img = Image.new("RGB", (width * s, height * s), (120, 130, 140))
    half_w, half_h = gap * 1.05, gap * 2.7
    ImageDraw.Draw(img).ellipse(
        ((cx - half_w) * s, (cy - half_h * 0.45) * s, (cx + half_w) * s, (cy + half_h * 0.6) * s),
        fill=skin,
    )
    pixels = np.asarray(img).astype(float)
    eye_w = gap * 0.45
    darker = np.ones(pixels.shape[:2])
    for side in (-1, 1):  # the eye sockets
        socket = ((cx + side * gap / 2) * s, (cy - eye_w * 0.1) * s)
        darker *= 1 - 0.4 * _shade(darker.shape, socket, (eye_w * 0.75 * s, eye_w * 0.45 * s))
    nose = (cx * s, (cy + gap * 0.55) * s)
    darker *= 1 - 0.15 * _shade(darker.shape, nose, (gap * 0.12 * s, gap * 0.35 * s))
    img = Image.fromarray((pixels * darker[..., None]).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for side in (-1, 1):
        _draw_eye(draw, cx + side * gap / 2, cy, eye_w)
    mouth_y = (cy + gap * 1.05) * s
    draw.line(
        ((cx - gap * 0.35) * s, mouth_y, (cx + gap * 0.35) * s, mouth_y),
        fill=(140, 70, 70),
        width=round(gap * 0.08 * s),
    )
    img = img.resize((width, height), Image.Resampling.LANCZOS)
    img = img.filter(ImageFilter.GaussianBlur(0.8))  # a camera's softness
    return img, ((cx - gap / 2, cy), (cx + gap / 2, cy))


def _draw_eye(draw: ImageDraw.ImageDraw, x: float, y: float, eye_w: float) -> None:
    """One eye centred at (x, y) (unscaled px), ``eye_w`` wide, with its lid and brow."""
    s = SUPERSAMPLE
    turns = np.linspace(0, 2 * math.pi, 60)
    almond = [
        ((x + eye_w / 2 * math.cos(t)) * s, (y + eye_w * (0.22 if math.sin(t) < 0 else 0.17)
         * math.sin(t)) * s)
        for t in turns
    ]  # fmt: skip
    draw.polygon(almond, fill=(235, 230, 225))
    for radius, colour in ((0.21, (75, 50, 35)), (0.1, (10, 10, 10))):  # iris, pupil
        r = eye_w * radius
        draw.ellipse(((x - r) * s, (y - r) * s, (x + r) * s, (y + r) * s), fill=colour)
    lid = [p for p, t in zip(almond, turns, strict=True) if math.sin(t) <= 0.01]
    draw.line(lid, fill=(40, 25, 20), width=round(eye_w * 0.12 * s))
    brow = [
        ((x + t * eye_w * 0.7) * s, (y - eye_w * 0.75 - eye_w * 0.15 * (1 - t * t)) * s)
        for t in np.linspace(-1, 1, 30)
    ]
    draw.line(brow, fill=(60, 40, 30), width=round(eye_w * 0.2 * s))
