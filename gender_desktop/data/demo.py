"""The built-in demo dataset: synthetic cartoon faces in the official CelebA layout.

It is generated, never downloaded, so a first launch works offline and shows the whole flow. The
faces carry a visual male/female signal a small model can learn (short hair, beard and heavy
brows vs. long hair and lipstick, with overlap in colour, pose and size), plus a few deliberately
flipped labels so the label-fixing tools have something to find. The folder holds a
``SYNTHETIC_DEMO`` marker that the UI shows as a banner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from gender_desktop import paths
from gender_desktop.data.celeba import CELEBA_ATTRIBUTES
from gender_desktop.errors import Cancelled
from gender_desktop.fileio import atomic_write_text

DEMO_VERSION = 1
DEFAULT_COUNT = 1200
FLIP_RATE = 0.02
WIDTH, HEIGHT = 178, 218
SKIN = ((241, 200, 170), (224, 172, 138), (198, 134, 99), (141, 85, 54), (250, 220, 196))
HAIR = {
    "Black_Hair": (30, 25, 25),
    "Brown_Hair": (100, 60, 30),
    "Blond_Hair": (225, 195, 110),
    "Gray_Hair": (160, 160, 160),
}


def demo_root() -> Path:
    return paths.data_dir() / f"demo-v{DEMO_VERSION}"


def draw_face(rng: np.random.Generator, male: bool) -> tuple[Image.Image, dict[str, bool]]:
    """One synthetic face and the attributes it really shows."""
    attrs = {name: False for name in CELEBA_ATTRIBUTES}
    bg = tuple(int(v) for v in rng.integers(60, 230, 3))
    img = Image.new("RGB", (WIDTH, HEIGHT), bg)
    d = ImageDraw.Draw(img)
    cx = WIDTH / 2 + rng.normal(0, 6)
    cy = HEIGHT / 2 + 8 + rng.normal(0, 6)
    fw = rng.uniform(52, 64) if male else rng.uniform(46, 58)
    fh = fw * rng.uniform(1.2, 1.4)
    skin = SKIN[int(rng.integers(len(SKIN)))]
    attrs["Pale_Skin"] = skin == SKIN[4]
    hair_name = list(HAIR)[int(rng.integers(len(HAIR)))]
    hair = HAIR[hair_name]
    attrs[hair_name] = True
    young = bool(rng.random() < 0.7)
    attrs["Young"] = young
    if not young and rng.random() < 0.5:
        hair, attrs[hair_name], attrs["Gray_Hair"] = HAIR["Gray_Hair"], False, True
    if not male:  # long hair behind the face, down to the shoulders
        d.rounded_rectangle(
            (cx - fw - 14, cy - fh - 6, cx + fw + 14, cy + fh * rng.uniform(0.6, 1.1)),
            radius=30,
            fill=hair,
        )
    d.rectangle(
        (cx - fw * 0.9, cy + fh * 0.85, cx + fw * 0.9, HEIGHT),
        fill=tuple(int(v) for v in rng.integers(20, 200, 3)),
    )
    d.ellipse((cx - fw, cy - fh, cx + fw, cy + fh), fill=skin)
    if male:  # short hair cap, squarer jaw, often beard or stubble
        d.chord((cx - fw - 2, cy - fh - 6, cx + fw + 2, cy - fh * 0.1), 180, 360, fill=hair)
        d.rectangle((cx - fw * 0.8, cy + fh * 0.2, cx + fw * 0.8, cy + fh * 0.7), fill=skin)
        beard = rng.random()
        if beard < 0.45:
            shade = tuple(max(0, int(c * 0.55)) for c in hair)
            d.chord((cx - fw * 0.85, cy, cx + fw * 0.85, cy + fh), 0, 180, fill=shade)
            attrs["Goatee"] = beard < 0.15
            attrs["Mustache"] = beard < 0.3
        elif beard < 0.7:
            attrs["5_o_Clock_Shadow"] = True
            stubble = tuple(max(0, int(c * 0.8)) for c in skin)
            d.chord(
                (cx - fw * 0.8, cy + fh * 0.2, cx + fw * 0.8, cy + fh * 0.98), 0, 180, fill=stubble
            )
        attrs["No_Beard"] = beard >= 0.45
        brow = 5
    else:
        d.chord((cx - fw - 4, cy - fh - 8, cx + fw + 4, cy - fh * 0.2), 180, 360, fill=hair)
        attrs["No_Beard"] = True
        brow = 2
        attrs["Arched_Eyebrows"] = True
    eye_y = cy - fh * 0.15
    for side in (-1, 1):
        ex = cx + side * fw * 0.4
        d.ellipse((ex - 7, eye_y - 4, ex + 7, eye_y + 4), fill=(250, 250, 250))
        d.ellipse((ex - 3, eye_y - 3, ex + 3, eye_y + 3), fill=(40, 30, 30))
        d.line(
            (ex - 9, eye_y - 11, ex + 9, eye_y - 11 - (3 if not male else 0)),
            fill=tuple(int(c * 0.6) for c in hair),
            width=brow,
        )
    if rng.random() < 0.15:
        attrs["Eyeglasses"] = True
        for side in (-1, 1):
            ex = cx + side * fw * 0.4
            d.rectangle((ex - 12, eye_y - 9, ex + 12, eye_y + 9), outline=(20, 20, 20), width=2)
        d.line((cx - fw * 0.4 + 12, eye_y, cx + fw * 0.4 - 12, eye_y), fill=(20, 20, 20), width=2)
    d.line(
        (cx, eye_y + 6, cx - 4, cy + fh * 0.25), fill=tuple(int(c * 0.75) for c in skin), width=2
    )
    smiling = bool(rng.random() < 0.5)
    attrs["Smiling"] = smiling
    lipstick = (not male) and rng.random() < 0.7
    attrs["Wearing_Lipstick"] = attrs["Heavy_Makeup"] = lipstick
    lips = (200, 30, 60) if lipstick else tuple(int(c * 0.7) for c in skin)
    my = cy + fh * 0.45
    if smiling:
        d.chord((cx - 16, my - 10, cx + 16, my + 10), 0, 180, fill=lips)
    else:
        d.line((cx - 12, my, cx + 12, my), fill=lips, width=4)
    if rng.random() < 0.1:
        attrs["Wearing_Hat"] = True
        hat = tuple(int(v) for v in rng.integers(0, 255, 3))
        d.rectangle((cx - fw - 10, cy - fh - 12, cx + fw + 10, cy - fh * 0.55), fill=hat)
    angle = rng.normal(0, 6)
    img = img.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=bg)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    noise = rng.normal(0, 6, (HEIGHT, WIDTH, 3))
    arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    attrs["Male"] = male
    return Image.fromarray(arr), attrs


def generate(
    root: Path,
    count: int = DEFAULT_COUNT,
    seed: int = 2026,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Write a CelebA-layout demo dataset of ``count`` images under ``root``."""
    rng = np.random.default_rng(seed)
    images = root / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        male = bool(rng.random() < 0.45)
        img, attrs = draw_face(rng, male)
        name = f"{i + 1:06d}.jpg"
        img.save(images / name, quality=90)
        if rng.random() < FLIP_RATE:  # a deliberate label error, for the label-fixing tools
            attrs["Male"] = not attrs["Male"]
        values = " ".join(" 1" if attrs[a] else "-1" for a in CELEBA_ATTRIBUTES)
        rows.append(f"{name} {values}")
        if progress is not None and (i % 50 == 0 or i == count - 1):
            progress(i + 1, count, "Drawing the demo faces")
    n_train, n_val = int(count * 0.8), int(count * 0.1)
    partition = [
        f"{i + 1:06d}.jpg {0 if i < n_train else 1 if i < n_train + n_val else 2}"
        for i in range(count)
    ]
    atomic_write_text(
        root / "list_attr_celeba.txt",
        f"{count}\n{' '.join(CELEBA_ATTRIBUTES)} \n" + "\n".join(rows) + "\n",
    )
    atomic_write_text(root / "list_eval_partition.txt", "\n".join(partition) + "\n")
    atomic_write_text(
        root / "SYNTHETIC_DEMO",
        "Synthetic demo faces generated by gender-desktop; not real people. "
        f"About {FLIP_RATE:.0%} of the Male labels are deliberately wrong.\n",
    )
    return root


def ensure_demo(
    progress: Callable[[int, int, str], None] | None = None,
    cancel: threading.Event | None = None,
    count: int | None = None,
) -> Path:
    """The demo dataset's folder, generated on first use (the marker file is written last, so
    an interrupted generation starts over)."""
    root = demo_root()
    if not (root / "SYNTHETIC_DEMO").exists():
        generate(root, count or DEFAULT_COUNT, progress=progress, cancel=cancel)
    return root
