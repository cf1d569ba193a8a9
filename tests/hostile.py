"""Test data a spreadsheet would run: names and values that start with a formula character."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import builders

from gender_desktop import csvsafe


def dataset(root: Path) -> tuple[Path, list[str]]:
    """A CelebA-style CSV whose image ids and attribute values a spreadsheet would run."""
    images = root / "images"
    images.mkdir(parents=True)
    ids = [
        f"{prefix}{i}.jpg"
        for i, prefix in zip(range(40), ["=", "+", "-", "@", ""] * 8, strict=True)
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["image_id", "Male", "Young", "note"])
    for i, image_id in enumerate(ids):
        male = builders.is_male(i)
        writer.writerow([image_id, 1 if male else -1, 1 if i % 2 else -1, f"=cmd|' /C calc'!A{i}"])
        (images / image_id).write_bytes(builders.jpeg_bytes(i))
    (root / "hostile.csv").write_text(buf.getvalue())
    return root, ids


def assert_text_cells_are_safe(data: bytes) -> None:
    """What a spreadsheet parses (no unescaping): no text cell starts a formula; only a
    number may start with ``-`` or ``+``."""
    for row in csv.reader(io.StringIO(csvsafe.decode(data), newline="")):
        for cell in row:
            if cell.startswith(csvsafe.FORMULA_START):
                float(cell)  # raises for text: the cell would run as a formula
