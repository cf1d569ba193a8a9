"""Frame faces in new photos the way the run's training images framed them (issue 12).

A model trained on CelebA's aligned 178x218 crops has only ever seen a face at one place and
scale: about half the image wide, eyes level a little above the middle, with hair, forehead and
background around it. The face detector's box is tight around the face, so feeding that box
shows the model a picture it never learned from (0.503 accuracy, chance, in issue 12). Here the
detector's box is mapped into the training geometry instead: the box-to-image geometry is
measured on the run's own training images when it trains (``framing.json`` in the run folder;
for CelebA images too small for the detector, read from the dataset's own landmark file), and
a new photo is cut (and padded, and rotated so the eyes are level) so its face sits where
the training faces sat. Torch- and Qt-free; every cv2 use goes through ``faces._opencv``.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gender_desktop.data.celeba_landmarks import find_landmarks, read_eyes
from gender_desktop.data.sources import FolderSource, Source
from gender_desktop.errors import UserError
from gender_desktop.fileio import atomic_write_json
from gender_desktop.ml.config import FRAMING_MODES, choice
from gender_desktop.ml.faces import DETECT_SIDE, TILTS, Box, _opencv, detect_faces

FRAMING_FILE = "framing.json"
SOURCES = ("learned", "celeba-landmarks", "celeba-aligned", "default")
CELEBA_LAYOUTS = ("celeba-official", "celeba-kaggle", "celeba-subset")
MIN_SIDE = 48  # images smaller than this are not searched for faces (the cascade needs ~24 px)
EYE_SEARCH_WIDTH = 240  # px; eyes are searched in the face box scaled down to this width
MAX_OUTPUT_SIDE = 1024  # a framed face's longer side at most (the model sees 64-299 px)
MAX_TILT = 30.0  # degrees; an eye pair tilted more than this is taken as a false find
# "Already framed like the training data" within these: centre shift as a share of the photo,
# face size and aspect as ratios.
CENTRE_TOLERANCE = 0.06
SIZE_TOLERANCE = 0.15
ASPECT_TOLERANCE = 0.08
MAX_FRAMING_BYTES = 64 * 1024  # a framing.json is ~200 bytes
UNIFORM_SHARE = 0.9  # this share of the training sample at one size: the images have one size
# How a row's image was made, the words rows, CSV files and the Predict panel show.
AS_IS = "as is"  # the photo itself: framed off, or already framed like the training images
REFRAMED = "reframed"  # its one face cut, padded and levelled into the training framing
WHOLE_NO_FACE = "whole image (no face found)"  # framing "auto" found no face: predicted whole


def face_of(k: int, n: int) -> str:
    """How the k-th (1-based) of n faces of one photo was made."""
    return f"face {k} of {n}"


class FramingError(UserError):
    """A framing file or setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class FaceGeometry:
    """Where the detector's face box sits in a training image, as shares of that image."""

    cx: float  # the face box's centre as a share of the training image's width
    cy: float  # ... and of its height
    size: float  # the face box's width as a share of the training image's width
    aspect: float  # the training images' height / width (CelebA aligned: 218/178)
    samples: int  # how many training images it was measured on (0: a built-in default)
    source: str  # one of SOURCES
    # (width, height) when (nearly) every training image has that size, as aligned datasets do
    # (CelebA 178x218, UTKFace 200x200): an image of that size is taken as framed like them
    image_size: tuple[int, int] | None = None

    def checked(self) -> FaceGeometry:
        """This geometry through :meth:`from_dict`'s checks: a measured or derived one gets
        the same test as a file, so nothing the predictor would refuse is kept."""
        return FaceGeometry.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["image_size"] = list(self.image_size) if self.image_size else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceGeometry:
        """Checked values: a hand-edited or damaged ``framing.json`` fails here with the field
        and the problem, not later as a zero-sized crop."""
        if not isinstance(data, dict):
            raise FramingError(f"framing must be a JSON object, not a {type(data).__name__}")
        values: dict[str, Any] = {}
        for name, low, high in (
            ("cx", 0.0, 1.0),
            ("cy", 0.0, 1.0),
            ("size", 0.1, 1.0),  # a face a tenth of the image or more: else a runaway crop
            ("aspect", 0.25, 4.0),
        ):
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FramingError(f"framing {name!r} must be a number, not {value!r}")
            if not low <= float(value) <= high:
                raise FramingError(f"framing {name!r} is {value}; it must be in {low}..{high}")
            values[name] = float(value)
        samples = data.get("samples", 0)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            raise FramingError(f"framing 'samples' must be a count >= 0, not {samples!r}")
        source = data.get("source", "learned")
        if source not in SOURCES:
            raise FramingError(f"framing 'source' is {source!r}; it must be one of {SOURCES}")
        return cls(**values, samples=samples, source=source, image_size=_image_size(data))


def _image_size(data: dict[str, Any]) -> tuple[int, int] | None:
    """The optional ``image_size`` of a framing file: null, or two pixel counts."""
    value = data.get("image_size")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 100_000 for v in value
        )
    ):
        raise FramingError(f"framing 'image_size' must be null or [width, height], not {value!r}")
    return (value[0], value[1])


# OpenCV's frontal-face cascade was trained on 24 px windows with the eyes about 11 px apart at
# 9 px from the top, so its box is about BOX_PER_EYE_DISTANCE x the eye distance wide and its
# centre sits BOX_CENTRE_BELOW_EYES box widths below the eye line. This maps eye landmarks (the
# ones CelebA ships) to the detector-box geometry the framing uses.
BOX_PER_EYE_DISTANCE = 2.2
BOX_CENTRE_BELOW_EYES = 0.125
CELEBA_SIZE = (178, 218)  # CelebA's aligned images, width x height


def geometry_from_eyes(
    centre: tuple[float, float],
    distance: float,
    image_size: tuple[int, int] = CELEBA_SIZE,
    samples: int = 0,
    source: str = "celeba-aligned",
) -> FaceGeometry:
    """The detector-box geometry of a face whose eyes are ``distance`` px apart around
    ``centre`` in an image of ``image_size`` (the cascade relation above). Unchecked: callers
    reading a file check it with :meth:`FaceGeometry.from_dict`."""
    width, height = image_size
    box = BOX_PER_EYE_DISTANCE * distance
    return FaceGeometry(
        cx=round(centre[0] / width, 4),
        cy=round((centre[1] + BOX_CENTRE_BELOW_EYES * box) / height, 4),
        size=round(box / width, 4),
        aspect=height / width,
        samples=samples,
        source=source,
        image_size=(width, height),  # CelebA's aligned images all have one size
    )


# CelebA's aligned 178x218 framing from the typical landmark positions of
# list_landmarks_align_celeba.txt: eyes at about (69, 111) and (108, 111), so 39 px apart,
# centred at x 88.5: a box 86 px wide (0.48 of 178) centred at y 111 + 11 = 122 (0.56 of 218).
# The demo's cartoon faces do not serve: the cascade boxes them at 0.74 of the width, far from
# real CelebA. A run trained on real CelebA measures its own geometry at training time (or reads
# the dataset's own landmarks, geometry_from_landmarks) and does not use these numbers.
CELEBA_ALIGNED = geometry_from_eyes((88.5, 111.0), 39.0)


def geometry_from_landmarks(
    file: str | Path, image_size: tuple[int, int] = CELEBA_SIZE
) -> FaceGeometry:
    """The framing of CelebA's alignment read from its own landmark file (the official ``.txt``
    or the Kaggle ``.csv``): the median eye centre and eye distance, mapped to the detector box
    by :func:`geometry_from_eyes`. :class:`FramingError` names the file (and line) that cannot
    be used."""
    path = Path(file)
    return _landmarks_geometry(FolderSource(path.parent, only=[path.name]), path.name, image_size)


def dataset_landmarks_geometry(
    dataset_path: str | Path, image_size: tuple[int, int] = CELEBA_SIZE
) -> FaceGeometry | None:
    """:func:`geometry_from_landmarks` of the landmark file of the CelebA dataset picked at
    ``dataset_path`` (data/celeba_landmarks.find_landmarks); None when it has none."""
    found = find_landmarks(dataset_path)
    return None if found is None else _landmarks_geometry(*found, image_size)


def _landmarks_geometry(source: Source, rel: str, image_size: tuple[int, int]) -> FaceGeometry:
    """The median eyes of ``rel`` in ``source`` as a checked geometry. The median, as in
    :func:`learn_geometry`: a few mislabelled rows move it little."""
    try:
        eyes = read_eyes(source, rel)
    except UserError as exc:  # DatasetError: the file and line are its own
        raise FramingError(exc.reason, file=exc.file or source.display(rel), line=exc.line) from exc
    finally:
        source.close()  # a zip's handle
    centre_x = np.median((eyes[:, 0] + eyes[:, 2]) / 2)
    centre_y = np.median((eyes[:, 1] + eyes[:, 3]) / 2)
    distance = np.median(np.hypot(eyes[:, 2] - eyes[:, 0], eyes[:, 3] - eyes[:, 1]))
    geometry = geometry_from_eyes(
        (float(centre_x), float(centre_y)),
        float(distance),
        image_size,
        len(eyes),
        "celeba-landmarks",
    )
    try:  # eyes outside the image or a runaway distance: the file is not CelebA's
        return geometry.checked()
    except FramingError as exc:
        raise FramingError(
            f"the eyes it gives make no usable framing: {exc.reason}", file=source.display(rel)
        ) from exc


def photo_geometry(img: Image.Image, box: Box) -> tuple[float, float, float, float]:
    """(cx, cy, size, aspect) of ``box`` in ``img``, the quantities of :class:`FaceGeometry`."""
    return (
        (box.left + box.width / 2) / img.width,
        (box.top + box.height / 2) / img.height,
        box.width / img.width,
        img.height / img.width,
    )


def learn_geometry(
    images: Iterable[Image.Image], limit: int = 100, min_faces: int = 10
) -> FaceGeometry | None:
    """The median geometry of the largest face in up to ``limit`` images (images under
    :data:`MIN_SIDE` px are skipped without a search); None when fewer than ``min_faces`` faces
    were found, or when the median is no usable framing (faces a few percent of the image: the
    check a ``framing.json`` gets when it is read, so the trainer never writes one the
    predictor refuses). The median, not the mean: a false find in the background moves it
    little. An image's ``info["source_size"]`` (set by :func:`training_sample`) is its size on
    disk when it was decoded smaller."""
    found, sizes = [], []
    for count, img in enumerate(images):
        if count >= limit:
            break
        if min(img.size) < MIN_SIDE:
            continue
        sizes.append(tuple(img.info.get("source_size", img.size)))
        boxes = detect_faces(img)
        if boxes:
            found.append(photo_geometry(img, boxes[0]))
    if len(found) < max(1, min_faces):
        return None
    cx, cy, size, aspect = (float(v) for v in np.median(np.asarray(found), axis=0))
    common, count = Counter(sizes).most_common(1)[0]
    geometry = FaceGeometry(
        round(cx, 4),
        round(cy, 4),
        round(size, 4),
        round(aspect, 4),
        len(found),
        "learned",
        common if count >= UNIFORM_SHARE * len(sizes) else None,
    )
    try:
        return geometry.checked()
    except FramingError:
        return None


_local = threading.local()


def _eye_cascade():
    """This thread's eye cascade (cascades keep per-call state; see ``faces._detector``), or
    None when this OpenCV lacks ``haarcascade_eye.xml``: leveling is then skipped."""
    if not hasattr(_local, "eyes"):
        cv2, folder = _opencv()
        cascade = cv2.CascadeClassifier(folder + "haarcascade_eye.xml") if folder else None
        _local.eyes = cascade if cascade is not None and not cascade.empty() else None
    return _local.eyes


def find_eyes(img: Image.Image, box: Box) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The (left, right) eye centres in ``img`` coordinates, found by OpenCV's eye cascade in
    the upper part of ``box``: one on each side of its middle. None when not two are found."""
    cascade = _eye_cascade()
    if cascade is None:
        return None
    cv2, _folder = _opencv()
    top = max(0, box.top)
    region = img.crop((box.left, top, box.left + box.width, top + box.height * 6 // 10))
    scale = min(1.0, EYE_SEARCH_WIDTH / max(1, box.width))  # a big face is searched smaller
    if scale < 1.0:
        region = region.resize(
            (max(1, round(region.width * scale)), max(1, round(region.height * scale))),
            Image.Resampling.BILINEAR,
        )
    gray = cv2.equalizeHist(np.asarray(region.convert("L")))
    side = max(8, region.width // 10)
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
    centres = sorted(
        (
            ((x + w / 2) / scale, (y + h / 2) / scale, w * h)
            for x, y, w, h in (found if len(found) else [])
        ),
        key=lambda e: -e[2],
    )
    half = box.width / 2
    left = next((e for e in centres if e[0] < half), None)
    right = next((e for e in centres if e[0] >= half), None)
    if left is None or right is None:
        return None
    # Two eyes, not an eye and an eyebrow or a nostril: a quarter to 0.7 of the face apart,
    # and at nearly one height (a false pair would turn the face by up to MAX_TILT).
    gap, rise = right[0] - left[0], abs(right[1] - left[1])
    if not (0.25 * box.width <= gap <= 0.7 * box.width) or rise > 0.15 * box.height:
        return None
    return (
        (box.left + left[0], top + left[1]),
        (box.left + right[0], top + right[1]),
    )


def eye_angle(eyes: tuple[tuple[float, float], tuple[float, float]]) -> float:
    """The tilt of the line from the left to the right eye, in degrees (positive: the right
    eye is lower in image coordinates); 0 for a tilt over :data:`MAX_TILT` (a false find)."""
    (lx, ly), (rx, ry) = eyes
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    return angle if abs(angle) <= MAX_TILT else 0.0


def frame_face(
    img: Image.Image,
    box: Box,
    geometry: FaceGeometry,
    level_eyes: bool = True,
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> Image.Image:
    """The region of ``img`` in which ``box`` sits where ``geometry`` says: width
    ``box.width / geometry.size``, height ``width * geometry.aspect``, at the photo's own
    resolution (the predictor resizes). With ``level_eyes`` the cut is turned about the face's
    centre so the eyes are level, as in CelebA's aligned images; ``eyes`` gives the eye centres
    instead of searching for them.

    One affine warp does the cut, the turn and the padding. Beyond the photo's edges the edge
    pixels are repeated, not a flat colour: CelebA's aligned images were padded that way (the
    smeared borders visible in many of them), so a model trained on them has seen such borders,
    while a grey or black band is an edge it never met."""
    cv2, _folder = _opencv()
    width = box.width / geometry.size
    height = width * geometry.aspect
    # A 4000 px selfie face would make a 10k px cut (hundreds of MB a face): the warp samples
    # the cut down to MAX_OUTPUT_SIDE at once (the predictor shrinks it to the model's size).
    shrink = min(1.0, MAX_OUTPUT_SIDE / max(width, height))
    out_w, out_h = max(1, round(width * shrink)), max(1, round(height * shrink))
    angle = 0.0
    if level_eyes:  # the eyes when found (precise), else the tilt the face was found at
        pair = eyes if eyes is not None else find_eyes(img, box)
        angle = eye_angle(pair) if pair is not None else box.angle
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    fx, fy = box.left + box.width / 2, box.top + box.height / 2
    ox, oy = geometry.cx * width, geometry.cy * height  # the face centre in the output
    # Output pixel (u, v) reads the photo at face + R(angle) @ ((u, v) - (ox, oy)).
    # Output pixel (u, v) of the shrunk cut reads the unshrunk cut's (u, v) / shrink.
    k = 1.0 / shrink
    matrix = np.array(
        [
            [cos * k, -sin * k, fx - (cos * ox - sin * oy)],
            [sin * k, cos * k, fy - (sin * ox + cos * oy)],
        ]
    )
    out = cv2.warpAffine(
        np.asarray(img.convert("RGB")),
        matrix,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return Image.fromarray(out)


@dataclass
class Framed:
    """One image to predict on and how it was made from the photo."""

    image: Image.Image
    how: str  # "as is" | "reframed" | "face 2 of 3"
    box: Box | None  # the detected face in the photo's coordinates (None: as is, no detection)


def already_framed(img: Image.Image, box: Box, geometry: FaceGeometry) -> bool:
    """Whether ``box`` already sits in ``img`` where ``geometry`` puts it (a CelebA image, a
    crop made by this module): such a photo is left as it is rather than cut again."""
    cx, cy, size, aspect = photo_geometry(img, box)
    return (
        abs(cx - geometry.cx) <= CENTRE_TOLERANCE
        and abs(cy - geometry.cy) <= CENTRE_TOLERANCE
        and abs(size / geometry.size - 1) <= SIZE_TOLERANCE
        and abs(aspect / geometry.aspect - 1) <= ASPECT_TOLERANCE
    )


def frame_photo(
    img: Image.Image,
    geometry: FaceGeometry,
    mode: str = "auto",
    photo_size: tuple[int, int] | None = None,
) -> list[Framed]:
    """The images to predict on for one photo under framing ``mode`` (ml/config.FRAMING_MODES).
    ``"off"``: the photo as is. ``"auto"`` and ``"faces"``: no face gives ``[]`` (the caller
    predicts the photo whole or says "no face found"); one face already framed like the
    training data gives the photo as is; one face otherwise is reframed; several faces give one
    framed image per face, largest first. A face filling most of the photo is reframed with
    padding (the output is wider than the face by ``1 / geometry.size``), never cut smaller.

    ``photo_size``: the file's own size when ``img`` was decoded smaller. Under ``"auto"`` an
    image of the training images' size (``geometry.image_size``) is taken as is unsearched;
    ``"faces"`` searches it anyway, since it promises a row only for a face found."""
    choice(mode, FRAMING_MODES, "framing mode", FramingError)
    same_size = geometry.image_size and (photo_size or img.size) == tuple(geometry.image_size)
    if mode == "off" or (mode == "auto" and same_size):
        # the size of every training image (an aligned dataset's own image): framed like them,
        # and not searched (the detector's box on such an image varies by tens of percent, so
        # a test would reframe a quarter of them)
        return [Framed(img, AS_IS, None)]
    boxes = detect_faces(img, TILTS)
    if len(boxes) == 1 and not boxes[0].angle and already_framed(img, boxes[0], geometry):
        return [Framed(img, AS_IS, boxes[0])]
    if len(boxes) == 1:
        return [Framed(frame_face(img, boxes[0], geometry), REFRAMED, boxes[0])]
    return [
        Framed(frame_face(img, box, geometry), face_of(k, len(boxes)), box)
        for k, box in enumerate(boxes, 1)
    ]


def read_geometry(file: Path) -> FaceGeometry:
    """A ``framing.json``; :class:`FramingError` names the file and what is wrong. Read as
    every file the app did not write itself is: a regular file, at most
    :data:`MAX_FRAMING_BYTES` (a FIFO or a link to /dev/zero there would hang or fill memory)."""
    from gender_desktop.data.sources import read_regular

    try:
        raw = read_regular(file, MAX_FRAMING_BYTES)
    except UserError as exc:
        raise FramingError(exc.reason, file=file) from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise FramingError(f"cannot be read as JSON ({exc})", file=file) from exc
    try:
        return FaceGeometry.from_dict(data)
    except FramingError as exc:
        raise FramingError(exc.reason, file=file) from exc


def geometry_of_run(run_dir: str | Path) -> FaceGeometry:
    """The run's stored framing, else for a run trained on a CelebA layout the framing of its
    dataset's landmark file (when the dataset is still there) or CelebA's typical aligned
    framing, else the same numbers marked ``"default"`` (a guess, and the UI may say so)."""
    folder = Path(run_dir)
    file = folder / FRAMING_FILE
    if os.path.lexists(file):  # a broken or looping link is an error to show, not "missing"
        return read_geometry(file)
    dataset: Any = None
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        dataset = config.get("dataset") if isinstance(config, dict) else None
    except (OSError, ValueError, RecursionError):
        pass  # an unreadable config.json is reported by whoever loads the run
    dataset = dataset if isinstance(dataset, dict) else {}
    if dataset.get("layout") not in CELEBA_LAYOUTS:
        return replace(CELEBA_ALIGNED, source="default")
    source = dataset.get("source")
    if isinstance(source, str) and source:
        try:
            return dataset_landmarks_geometry(source) or CELEBA_ALIGNED
        except (UserError, OSError):
            pass  # a moved, damaged or foreign landmark file: the typical framing serves
    return CELEBA_ALIGNED


def write_geometry(run_dir: str | Path, geometry: FaceGeometry) -> None:
    atomic_write_json(Path(run_dir) / FRAMING_FILE, geometry.to_dict())


def training_sample(
    dataset: Any,
    rows: np.ndarray,
    seed: int,
    limit: int = 100,
    stop: Any = None,
) -> Iterable[Image.Image]:
    """Up to ``limit`` of the dataset's ``rows`` (a seeded draw, so a rerun measures the same
    images) at full resolution, read with the dataset's own reader. Unreadable images and
    images whose header says they are under :data:`MIN_SIDE` px are passed over undecoded:
    the tests' 12x14 px datasets cost a header read each."""
    from gender_desktop.data.images import ImageError, decode, header_size, stored_size

    rows = np.asarray(rows)
    chosen = np.random.default_rng(seed).permutation(rows)[:limit]
    for row in chosen:
        try:
            data = dataset.read_bytes(int(row))
            size = header_size(data[:65536])
            if size is not None and min(size) < MIN_SIDE:
                continue
            if stop is not None and stop.is_set():  # Stop pressed: the run goes on to stop
                return
            # at most the detector's own size (it shrinks to that anyway; the geometry is a
            # ratio): a 12 MP photo decodes at reduced scale, not whole
            img = decode(data, dataset.display_path(int(row)), max_side=DETECT_SIDE)
            img.info["source_size"] = stored_size(data, img)
            yield img
        except (ImageError, UserError, OSError):
            continue


def framing_message(geometry: FaceGeometry | None) -> str:
    """The log line the trainer writes about what it learned."""
    if geometry is None:
        return (
            "framing: too few faces found in the training images; predictions use CelebA's "
            "aligned framing"
        )
    if geometry.source == "celeba-landmarks":
        return (
            f"framing: too few faces found in the training images; from the dataset's landmarks "
            f"instead: face at {geometry.cx:.0%} x {geometry.cy:.0%} of the image, "
            f"{geometry.size:.0%} of its width ({geometry.samples:,} images)"
        )
    return (
        f"framing: face at {geometry.cx:.0%} x {geometry.cy:.0%} of the image, "
        f"{geometry.size:.0%} of its width, learned from {geometry.samples} training images"
    )
