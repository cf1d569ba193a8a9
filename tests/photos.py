"""Photos for face detection: drawn demo faces that OpenCV's cascade finds, and images without
a face (blank, noise), as the Predict panel meets them."""

from __future__ import annotations

import numpy as np
from PIL import Image

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
