"""Framing faces like the training data (issue 12): real drawn faces, OpenCV's real cascades,
and a real tiny training run that writes (or explains the lack of) framing.json."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from photos import face_photos
from PIL import Image, ImageDraw
from setups import tiny_config

from gender_desktop.data.demo import draw_face, generate
from gender_desktop.ml import framing
from gender_desktop.ml.faces import Box, detect_faces
from gender_desktop.ml.framing import (
    CELEBA_ALIGNED,
    FRAMING_FILE,
    FaceGeometry,
    FramingError,
    frame_face,
    frame_photo,
    geometry_of_run,
    learn_geometry,
    write_geometry,
)
from gender_desktop.ml.trainer import Trainer
from gender_desktop.runs.folder import RunFolder

# The drawn demo faces' own geometry (measured by learn_geometry on 40 of them: 0.50, 0.53,
# 0.76); the tests frame with it, as a run trained on the demo would.
DEMO = FaceGeometry(0.5, 0.53, 0.76, 218 / 178, 11, "learned")


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    return face_photos()


def error_of(framed: Image.Image, geometry: FaceGeometry) -> tuple[float, float, float]:
    """How far (in pixels) the face found again in ``framed`` is from where ``geometry`` says:
    centre x, centre y, width."""
    boxes = detect_faces(framed)
    assert boxes, "no face found again in the framed image"
    box = boxes[0]
    width, height = framed.size
    return (
        box.left + box.width / 2 - geometry.cx * width,
        box.top + box.height / 2 - geometry.cy * height,
        box.width - geometry.size * width,
    )


def assert_framed_like(framed: Image.Image, geometry: FaceGeometry) -> None:
    """Within 6 % of the output's width: the cascade's own jitter between two detections of
    one face (a few pixels at CelebA's 178 px)."""
    dx, dy, dw = error_of(framed, geometry)
    limit = 0.06 * framed.width
    assert abs(dx) <= limit and abs(dy) <= limit and abs(dw) <= limit, (dx, dy, dw)
    assert abs(framed.height / framed.width - geometry.aspect) < 0.01


def cluttered(size: tuple[int, int], seed: int, face: Image.Image) -> Image.Image:
    """A canvas of random rectangles: something for a detector to be wrong about. Its ground
    is the face photo's own background colour: on a far darker ground the detector's global
    histogram equalisation washes the drawn face out and the cascade misses it."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, face.getpixel((0, 0)))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        w, h = int(rng.integers(10, 120)), int(rng.integers(10, 120))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.rectangle((x, y, x + w, y + h), fill=colour)
    return img


def test_a_framed_face_lands_where_the_geometry_says(photos) -> None:
    photo = photos[2]  # a 2x face on a 500 px canvas, at its top left
    box = detect_faces(photo)[0]
    framed = frame_face(photo, box, DEMO)
    assert framed.width == round(box.width / DEMO.size)
    assert_framed_like(framed, DEMO)
    # Another geometry moves the face accordingly: smaller, lower, off-centre.
    other = replace(DEMO, cx=0.4, cy=0.6, size=0.45)
    assert_framed_like(frame_face(photo, box, other), other)


def test_a_photo_framed_like_the_training_data_is_left_as_it_is(photos) -> None:
    photo = photos[0]  # a demo face at its own 178 x 218
    [framed] = frame_photo(photo, DEMO)
    assert framed.how == "as is" and framed.image is photo and framed.box is not None
    assert frame_photo(photo, DEMO, mode="off")[0].how == "as is"


def test_a_small_face_in_a_big_cluttered_canvas_is_reframed(photos) -> None:
    face = photos[0]  # at a third of the canvas's width
    canvas = cluttered((face.width * 3, face.height * 3), seed=4, face=face)
    canvas.paste(face, (face.width + 40, face.height - 30))
    [framed] = frame_photo(canvas, DEMO)
    assert framed.how == "reframed"
    assert framed.box is not None and framed.box.left > face.width
    assert_framed_like(framed.image, DEMO)


def test_two_faces_give_two_framed_images_largest_first() -> None:
    big, _ = draw_face(np.random.default_rng(7), male=False)
    small, _ = draw_face(np.random.default_rng(12), male=True)
    big, small = big.resize((356, 436)), small.resize((300, 367))
    canvas = cluttered((800, 500), seed=1, face=big)
    canvas.paste(big, (20, 30))
    canvas.paste(small, (460, 80))
    rows = frame_photo(canvas, DEMO)
    assert [r.how for r in rows] == ["face 1 of 2", "face 2 of 2"]
    assert rows[0].box.left < 400 < rows[1].box.left  # the larger (left) face first
    for row in rows:
        assert_framed_like(row.image, DEMO)


def test_no_face_gives_no_rows(photos) -> None:
    assert frame_photo(photos[4], DEMO) == []  # blank white
    assert frame_photo(photos[5], DEMO) == []  # noise
    with pytest.raises(FramingError, match="unknown framing mode 'tight'"):
        frame_photo(photos[4], DEMO, mode="tight")


def test_a_face_at_the_edge_is_padded_not_shifted(photos) -> None:
    photo = photos[1].crop((60, 0, photos[1].width, photos[1].height))  # face at the left edge
    [framed] = frame_photo(photo, DEMO)
    assert framed.how == "reframed"
    assert_framed_like(framed.image, DEMO)
    # The columns left of where the photo ends repeat its edge pixels (the left pad).
    left = round(DEMO.cx * framed.image.width - (framed.box.left + framed.box.width / 2))
    assert left > 20
    out = np.asarray(framed.image).astype(int)
    pad, edge = out[:, : left - 2], out[:, left + 2 : left + 3]  # edge: the photo's first columns
    assert np.abs(pad - pad[:, -1:]).max() <= 2  # constant along each row
    assert np.abs(pad[:, -1:] - edge).mean() <= 8  # and the photo's own edge colour


def test_a_face_filling_the_photo_is_padded_never_cropped_smaller(photos) -> None:
    face = photos[1]
    box = detect_faces(face)[0]
    tight = face.crop((box.left, box.top, box.left + box.width, box.top + box.height))
    [framed] = frame_photo(tight, DEMO)
    assert framed.how == "reframed"
    assert framed.image.width > tight.width and framed.image.height > tight.height
    assert_framed_like(framed.image, DEMO)


def test_given_tilted_eyes_are_levelled() -> None:
    """The eye cascade does not find the demo's drawn eyes (14 x 8 px ellipses, at 1x to 3x),
    so the turn is tested with eye points given: two dots on a line tilted by 10 degrees."""
    img = Image.new("RGB", (400, 400), (200, 200, 200))
    draw = ImageDraw.Draw(img)
    centre, half = np.array([200.0, 200.0]), 50.0
    tilt = math.radians(10)
    offset = half * np.array([math.cos(tilt), math.sin(tilt)])
    eyes = (tuple(centre - offset), tuple(centre + offset))
    for (x, y), colour in zip(eyes, ((255, 0, 0), (0, 0, 255)), strict=True):
        draw.ellipse((x - 6, y - 6, x + 6, y + 6), fill=colour)
    box = Box(120, 130, 160, 160)
    out = np.asarray(frame_face(img, box, DEMO, eyes=eyes)).astype(int)
    red = np.argwhere((out[..., 0] > 200) & (out[..., 2] < 60)).mean(axis=0)
    blue = np.argwhere((out[..., 2] > 200) & (out[..., 0] < 60)).mean(axis=0)
    angle = math.degrees(math.atan2(blue[0] - red[0], blue[1] - red[1]))
    assert abs(angle) < 1.0, angle
    assert blue[1] - red[1] == pytest.approx(100, abs=2)  # turned, not scaled
    # Without leveling the tilt stays.
    kept = np.asarray(frame_face(img, box, DEMO, level_eyes=False, eyes=eyes)).astype(int)
    red = np.argwhere((kept[..., 0] > 200) & (kept[..., 2] < 60)).mean(axis=0)
    blue = np.argwhere((kept[..., 2] > 200) & (kept[..., 0] < 60)).mean(axis=0)
    assert math.degrees(math.atan2(blue[0] - red[0], blue[1] - red[1])) == pytest.approx(10, abs=1)
    assert framing.eye_angle(((0, 0), (10, 10))) == 0.0  # 45 degrees: taken as a false find


def test_learn_geometry_takes_the_median_and_needs_enough_faces() -> None:
    rng = np.random.default_rng(3)
    faces = [draw_face(rng, male=bool(i % 2))[0] for i in range(30)]
    learned = learn_geometry(faces, min_faces=5)  # the cascade finds about a third of them
    assert learned is not None and learned.source == "learned" and learned.samples >= 5
    found = [framing.photo_geometry(f, b[0]) for f in faces if (b := detect_faces(f))]
    assert learned.samples == len(found)
    assert learned.cx == pytest.approx(float(np.median([g[0] for g in found])), abs=1e-3)
    assert learned.size == pytest.approx(float(np.median([g[2] for g in found])), abs=1e-3)
    assert learned.aspect == pytest.approx(218 / 178, abs=1e-3)
    assert learn_geometry(faces, min_faces=learned.samples + 1) is None
    assert learn_geometry(faces[:5], limit=5, min_faces=10) is None
    # Faces framed to another geometry give that geometry back.
    wanted = FaceGeometry(0.45, 0.58, 0.5, 1.25, 0, "default")
    framed = [frame_face(f, b[0], wanted) for f in faces if (b := detect_faces(f))]
    back = learn_geometry(framed, min_faces=5)
    assert back is not None
    for name in ("cx", "cy", "size", "aspect"):
        assert getattr(back, name) == pytest.approx(getattr(wanted, name), abs=0.03), name
    tiny = [f.resize((40, 49)) for f in faces]
    assert learn_geometry(tiny, min_faces=1) is None  # under 48 px: not searched
    # All the drawn faces are 178 x 218: the geometry says so; one size in four does not.
    assert learned.image_size == (178, 218)
    mixed = [f if i % 4 else f.resize((200, 240)) for i, f in enumerate(faces)]
    assert learn_geometry(mixed, min_faces=5).image_size is None


def test_learned_faces_too_small_for_a_framing_give_none_rather_than_a_refused_file() -> None:
    """Faces a few percent of the image (the detector takes them down to 6 % of the shorter
    side) make no usable framing: no framing.json the predictor would refuse is written."""
    face = draw_face(np.random.default_rng(7), male=False)[0]
    scenes = []
    for x in (300, 1000, 1800):
        scene = Image.new("RGB", (2400, 1400), (200, 200, 200))
        scene.paste(face, (x, 600))
        scenes.append(scene)
    boxes = [detect_faces(s)[0] for s in scenes]  # found, each about 5.5 % of the width
    assert all(box.width / 2400 < 0.1 for box in boxes)
    assert learn_geometry(scenes, min_faces=3) is None


def test_geometry_round_trips_and_refuses_bad_values(tmp_path: Path) -> None:
    assert FaceGeometry.from_dict(DEMO.to_dict()) == DEMO
    assert FaceGeometry.from_dict(json.loads(json.dumps(CELEBA_ALIGNED.to_dict()))) == (
        CELEBA_ALIGNED
    )
    for change, message in (
        ({"cx": 1.5}, "'cx' is 1.5; it must be in 0.0..1.0"),
        ({"size": 0}, "'size' is 0"),
        ({"aspect": "tall"}, "'aspect' must be a number"),
        ({"samples": -1}, "'samples' must be a count"),
        ({"source": "guess"}, "'source' is 'guess'"),
        ({"image_size": [178]}, "'image_size' must be null or \\[width, height\\]"),
    ):
        with pytest.raises(FramingError, match=message):
            FaceGeometry.from_dict({**DEMO.to_dict(), **change})
    write_geometry(tmp_path, DEMO)
    assert geometry_of_run(tmp_path) == DEMO
    (tmp_path / FRAMING_FILE).write_text('{"cx": 2}')
    with pytest.raises(FramingError, match=r"framing.json: framing 'cx' is 2"):
        geometry_of_run(tmp_path)


def test_a_run_without_framing_uses_celeba_s_or_the_default(tmp_path: Path) -> None:
    celeba, other, bare = tmp_path / "celeba", tmp_path / "folders", tmp_path / "bare"
    for folder, layout in ((celeba, "celeba-kaggle"), (other, "folder-per-class")):
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"dataset": {"layout": layout}}))
    bare.mkdir()
    assert geometry_of_run(celeba) == CELEBA_ALIGNED
    assert geometry_of_run(other).source == "default"
    assert geometry_of_run(bare) == replace(CELEBA_ALIGNED, source="default")


def test_training_on_faces_writes_the_run_s_framing(tmp_path: Path) -> None:
    data = generate(tmp_path / "faces", count=60)
    run = RunFolder.create("faces", tmp_path / "runs")
    Trainer(tiny_config(data, epochs=1), run=run).run()
    geometry = geometry_of_run(run.path)
    assert geometry.source == "learned" and geometry.samples >= 10
    assert geometry.cx == pytest.approx(DEMO.cx, abs=0.05)
    assert geometry.size == pytest.approx(DEMO.size, abs=0.08)
    log = (run.path / "log.txt").read_text()
    assert f"learned from {geometry.samples} training images" in log


def test_training_on_tiny_images_logs_the_fallback(colour_data: Path, tmp_path: Path) -> None:
    run = RunFolder.create("colours", tmp_path / "runs")
    Trainer(tiny_config(colour_data, epochs=1), run=run).run()
    assert not (run.path / FRAMING_FILE).exists()
    assert (
        "framing: too few faces found in the training images" in (run.path / "log.txt").read_text()
    )
    assert geometry_of_run(run.path) == CELEBA_ALIGNED  # a CelebA layout


def test_a_huge_face_is_framed_at_a_bounded_size_with_the_face_where_the_geometry_says() -> None:
    """A 4000 px selfie face would make a 10k px cut: the warp samples it down at once, and
    the face still sits at the geometry's place (a red mark at the box's centre)."""
    from gender_desktop.ml.faces import Box
    from gender_desktop.ml.framing import MAX_OUTPUT_SIDE, FaceGeometry, frame_face

    photo = Image.new("RGB", (3000, 3000), (90, 90, 90))
    photo.paste((220, 20, 20), (1480, 1480, 1520, 1520))  # the face box's centre
    geometry = FaceGeometry(0.4, 0.6, 0.5, 1.25, 0, "default")
    framed = frame_face(photo, Box(750, 750, 1500, 1500), geometry, level_eyes=False)
    assert max(framed.size) == MAX_OUTPUT_SIDE and framed.size == (819, 1024)
    x, y = round(0.4 * framed.width), round(0.6 * framed.height)
    assert framed.getpixel((x, y)) == (220, 20, 20)


def test_a_framing_file_with_a_runaway_face_size_is_refused() -> None:
    from gender_desktop.ml.framing import CELEBA_ALIGNED, FaceGeometry, FramingError

    data = CELEBA_ALIGNED.to_dict() | {"size": 0.01}
    with pytest.raises(FramingError, match=re.escape("'size' is 0.01; it must be in 0.1..1.0")):
        FaceGeometry.from_dict(data)


def test_a_tilted_face_the_upright_search_misses_is_found_turned_and_framed_level() -> None:
    """A head tilted 20 degrees clockwise escapes the cascade upright; the photo turned back
    12 degrees finds it, the box is centred on the face in the photo, and the framed picture
    is turned by those 12 degrees: the face in it stands within the cascade's reach again."""
    face = draw_face(np.random.default_rng(0), male=True)[0]
    canvas = Image.new("RGB", (360, 400), face.getpixel((0, 0)))
    canvas.paste(face, (90, 90))
    tilted = canvas.rotate(-20, resample=Image.Resampling.BILINEAR, fillcolor=face.getpixel((0, 0)))
    assert detect_faces(tilted) == []
    (box,) = detect_faces(tilted, framing.TILTS)
    assert box.angle == 12.0
    # the face's centre, turned 20 degrees clockwise about the canvas centre
    upright = detect_faces(canvas)[0]
    ux, uy = upright.left + upright.width / 2 - 180, upright.top + upright.height / 2 - 200
    t = math.radians(20)
    expected = (
        180 + ux * math.cos(t) - uy * math.sin(t),
        200 + ux * math.sin(t) + uy * math.cos(t),
    )
    assert abs(box.left + box.width / 2 - expected[0]) < 12
    assert abs(box.top + box.height / 2 - expected[1]) < 12
    (framed,) = frame_photo(tilted, DEMO)
    assert framed.how == "reframed" and framed.box == box
    assert detect_faces(framed.image), "the framed face is not upright enough to be found"
    level = frame_face(tilted, replace(box, angle=0.0), DEMO)  # the same cut, not turned
    assert detect_faces(level) == []


def test_a_framing_file_that_is_a_fifo_or_a_loop_is_refused_at_once(tmp_path: Path) -> None:
    """Read as any file the app did not write: a FIFO would block for ever, a link to a device
    would fill memory, a looping link is not "no framing"."""
    import os

    os.mkfifo(tmp_path / FRAMING_FILE)
    with pytest.raises(FramingError, match=r"framing.json: .*not a regular file \(a FIFO\)"):
        geometry_of_run(tmp_path)
    (tmp_path / FRAMING_FILE).unlink()
    (tmp_path / FRAMING_FILE).symlink_to(tmp_path / FRAMING_FILE)
    with pytest.raises(FramingError, match=r"framing\.json: .*loop"):
        geometry_of_run(tmp_path)
