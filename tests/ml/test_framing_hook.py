"""The trainer's framing measurement (ml/trainer.py ``_learn_framing``) on a train split full of
what real folders hold: corrupt, truncated, empty, oversized and odd-mode files beside tiny
images and a few real faces. The run trains, and the faces that can be read are measured."""

from __future__ import annotations

import io
from pathlib import Path

import builders
import numpy as np
from photos import face_photos
from PIL import Image
from setups import tiny_config

from gender_desktop.ml.faces import detect_faces
from gender_desktop.ml.framing import FRAMING_FILE, geometry_of_run, photo_geometry
from gender_desktop.ml.trainer import Trainer
from gender_desktop.runs.folder import RunFolder

FACES = 12  # train rows 0..11 hold a real (findable) face: enough for a learned framing


def encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def broken_files() -> list[bytes]:
    """Each file the framing sample must pass over (all >= 48 px by their headers, so each is
    decoded or refused, not skipped by size)."""
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8))
    jpeg, png = encoded(noise, "JPEG"), encoded(noise, "PNG")
    bomb = bytearray(png[:33])  # a PNG header that claims 30000 x 30000 pixels, and no data
    bomb[16:24] = (30000).to_bytes(4, "big") * 2
    return [
        jpeg[:300],  # truncated JPEG
        jpeg[:300] + b"\xff\xd9",  # truncated, with an end marker (the quick check passes it)
        b"not an image at all\n" * 10,
        b"",  # empty
        bytes(bomb),  # a decompression bomb by its header
        png[: len(png) // 2],  # truncated PNG
        encoded(noise.convert("CMYK"), "JPEG"),  # valid, CMYK
        encoded(Image.fromarray(np.full((64, 64), 40000, np.uint16)), "PNG"),  # 16-bit grey
    ]


def test_corrupt_and_tiny_train_images_neither_fail_the_run_nor_the_framing(
    tmp_path: Path,
) -> None:
    data = builders.celeba_official(tmp_path / "mixed", 50)  # 40 train rows of 12 x 14 px
    folder = data / "img_align_celeba"
    face = encoded(face_photos()[0], "JPEG")  # a 178 x 218 drawn face the cascade finds
    names = builders.celeba_names(50)
    for name in names[:FACES]:
        (folder / name).write_bytes(face)
    for name, content in zip(names[FACES:], broken_files(), strict=False):
        (folder / name).write_bytes(content)
    run = RunFolder.create("mixed", tmp_path / "runs")
    summary = Trainer(tiny_config(data, epochs=1), run=run).run()
    assert not summary["stopped"] and "test" in summary
    log = (run.path / "log.txt").read_text()
    assert "images could not be decoded and are skipped" in log
    assert "framing: not measured" not in log  # the broken files were passed over, one by one
    geometry = geometry_of_run(run.path)
    assert (run.path / FRAMING_FILE).exists() and geometry.source == "learned"
    assert geometry.samples == FACES  # the faces counted, nothing else
    decoded = Image.open(io.BytesIO(face)).convert("RGB")
    expected = photo_geometry(decoded, detect_faces(decoded)[0])
    assert (geometry.cx, geometry.cy, geometry.size) == tuple(round(v, 4) for v in expected[:3])
    assert f"learned from {FACES} training images" in log
