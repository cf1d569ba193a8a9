"""Predictions for image files with a trained run's model: batched, on GPU or CPU.

Files are decoded by the one safe loader (``data/images.py``) in a thread pool while the model
works on the previous batch; a bad file (not an image, empty, truncated, a decompression bomb)
becomes a row with an error and the batch goes on. With a ``framing`` other than "off" faces are
found and each is framed the way the run's training images framed theirs (``ml/framing.py``): a
row per face, each saying how its picture was made. Each picture is then prepared exactly as
training prepared the dataset (shorter side to the input size, centre square, ImageNet
normalisation).
Grad-CAM shows which regions drove a prediction, from the gradients at the trunk's last block.

Test-time augmentation (``tta``, the modes of ``ml/config.TTA_MODES``) predicts several views of
each prepared square and averages their probabilities: "flip" the image and its mirror,
"ten_crop" Levi & Hassner's oversampling (the square enlarged by 256/224, its four corner crops
and centre crop at the input size, and their mirrors). Probabilities, not logits, are averaged,
as Levi & Hassner averaged their softmax outputs: one view the model is very sure about cannot
outvote the others without bound, and the average stays a probability of the same kind.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gender_desktop.data.images import ImageError, decode, square, stored_size
from gender_desktop.data.sources import read_regular
from gender_desktop.errors import UserError
from gender_desktop.ml import runtime
from gender_desktop.ml.config import FRAMING_MODES, TTA_MODES, choice
from gender_desktop.ml.faces import Box, FaceDetectorUnavailable
from gender_desktop.ml.framing import (
    AS_IS,
    CELEBA_ALIGNED,
    MAX_OUTPUT_SIDE,
    WHOLE_NO_FACE,
    FaceGeometry,
    FramingError,
    frame_photo,
    geometry_of_run,
)
from gender_desktop.ml.pipeline import Normaliser
from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.ml.runmodel import RunModel, load_run_model, to_device

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
PREVIEW_SIDE = 128
TEN_CROP_SCALE = 256 / 224  # Levi & Hassner's and torchvision's resize-then-crop ratio
MAX_FILE_BYTES = 200 * 1024 * 1024  # larger files are refused before reading them

Progress = Callable[[int, int, str], None]


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files as given, and the image files inside folders (recursively, sorted). A file named
    explicitly is always tried, whatever its name: a wrong one gets an error row."""
    out: list[str] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = [
                str(p)
                for p in sorted(path.rglob("*"))
                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
            ]
            out.extend(found)
        else:
            out.append(str(path))
    return out


def _read(path: str) -> bytes:
    p = Path(path)
    if not p.exists():
        raise ImageError(path, "file not found")
    if p.is_dir():
        raise ImageError(path, "a folder, not an image")
    try:  # regular files only, bounded: a FIFO or a device would block or read forever
        return read_regular(p, MAX_FILE_BYTES)
    except UserError as exc:
        raise ImageError(path, exc.reason) from exc


@dataclass
class ModelImage:
    """One picture the model is given for a file, and how it was made from the file."""

    picture: Image.Image  # what the model's square is cut from (for an error row: the preview)
    framed: str  # ml/framing.AS_IS, REFRAMED, WHOLE_NO_FACE, "face 2 of 3"; "" for an error
    face: int | None = None  # 0-based, largest first, when faces were searched and found
    faces: int | None = None  # faces found (0: none)
    box: tuple[int, int, int, int] | None = None
    error: str = ""


def model_images(
    data: bytes, path: str, size: int, framing: str, geometry: FaceGeometry | None
) -> list[ModelImage]:
    """The pictures one file gives the model under ``framing`` (ml/config.FRAMING_MODES):
    prediction and Grad-CAM both go through here, so a heat map explains the very picture its
    row was predicted on. Raises :class:`ImageError` for a file that cannot be decoded and
    ``FaceDetectorUnavailable`` when faces are asked for without OpenCV."""
    if choice(framing, FRAMING_MODES, "framing") == "off":
        return [ModelImage(decode(data, path, max_side=size * 2), AS_IS)]
    # the detector works on <= 800 px and a framed face is at most 1024 px, so a JPEG over
    # twice that on its shorter side decodes at a reduced scale (draft mode): a 24 MP photo
    # decodes in a quarter of the time and memory, with detail to spare for any model
    img = decode(data, path, max_side=2 * MAX_OUTPUT_SIDE)
    photo_size = stored_size(data, img)
    try:
        found = frame_photo(img, geometry or CELEBA_ALIGNED, framing, photo_size)
    except FaceDetectorUnavailable:
        raise  # no photo can be framed: the whole request fails with the install hint
    except Exception as exc:  # noqa: BLE001 - OpenCV failing on one photo fails only its row
        return [ModelImage(img, "", error=f"face detection failed ({exc})")]
    if not found:
        if framing == "faces":
            return [ModelImage(img, "", faces=0, error="no face found")]
        return [ModelImage(as_trained(data, path, size, img), WHOLE_NO_FACE, faces=0)]
    searched = any(framed.box is not None for framed in found)  # else taken as is unsearched
    return [
        ModelImage(
            as_trained(data, path, size, img) if framed.how == AS_IS else framed.image,
            framed.how,
            face=k if searched else None,
            faces=len(found) if searched else None,
            box=_in_photo(framed.box, img.size, photo_size),
        )
        for k, framed in enumerate(found)
    ]


def _in_photo(
    box: Box | None, decoded: tuple[int, int], photo: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """``box`` (found in the image as decoded) in the photo's own pixels: a large JPEG is
    decoded at a reduced scale, and rows say where the face is in the file."""
    if box is None:
        return None
    if decoded == photo:
        return box.as_tuple()
    sx, sy = photo[0] / decoded[0], photo[1] / decoded[1]
    return (
        round(box.left * sx),
        round(box.top * sy),
        round(box.width * sx),
        round(box.height * sy),
    )


def as_trained(data: bytes, path: str, size: int, img: Image.Image) -> Image.Image:
    """``img`` (decoded whole) as the training cache decodes its file: a JPEG at least four
    times the input size is decoded at a reduced DCT scale there (``max_side = 2 * size``), and
    the few levels that changes would move p_male off its evaluation's value. Smaller images
    decode the same either way and are not read twice."""
    if min(img.size) < 4 * size or not data.startswith(b"\xff\xd8"):
        return img  # only a JPEG this large decodes smaller (draft mode): others are alike
    return decode(data, path, max_side=size * 2)


def prepare_file(
    path: str, size: int, framing: str = "off", geometry: FaceGeometry | None = None
) -> list[tuple[PredictionRow, np.ndarray | None]]:
    """Decode one file into model inputs: one (row, square) per picture of
    :func:`model_images`; rows that cannot be predicted come with ``None``. Each row's preview
    is its square, what the model saw."""
    try:
        images = model_images(_read(path), path, size, framing, geometry)
    except ImageError as exc:
        return [(PredictionRow(path, error=exc.reason, framing=framing), None)]
    except (UserError, ImportError):
        raise  # the request itself is wrong (framing) or cannot run (no OpenCV)
    except Exception as exc:  # noqa: BLE001 - one strange file never stops a batch
        return [(PredictionRow(path, error=f"cannot be decoded ({exc})", framing=framing), None)]
    out = []
    for image in images:
        row = PredictionRow(
            path,
            error=image.error,
            face=image.face,
            faces=image.faces,
            box=image.box,
            framing=framing,
            framed=image.framed,
        )
        if image.error:
            row.preview = _preview(square(image.picture, PREVIEW_SIDE))
            out.append((row, None))
        else:
            arr = square(image.picture, size)
            row.preview = _preview(arr)
            out.append((row, arr))
    return out


def tta_views(batch: torch.Tensor, mode: str, size: int) -> list[torch.Tensor]:
    """The views of a normalised (N, 3, size, size) batch that test-time augmentation ``mode``
    predicts, each (N, 3, size, size). Ten-crop uses torchvision's ``ten_crop`` (the
    well-kept implementation of the corner/centre crops and their mirrors) on the batch
    enlarged by ``TEN_CROP_SCALE`` with antialiased bilinear resizing."""
    from torchvision.transforms.v2 import functional as TF

    if mode == "none":
        return [batch]
    if mode == "flip":
        views = [batch, TF.horizontal_flip(batch)]
    elif mode == "ten_crop":
        larger = round(size * TEN_CROP_SCALE)
        enlarged = TF.resize(batch, [larger, larger], antialias=True)
        views = list(TF.ten_crop(enlarged, [size, size]))
    else:
        raise ValueError(f"unknown test-time augmentation {mode!r}")
    # Crops are strided views; laid out as the plain batch is (channels last, from the NHWC
    # decode), the convolutions run at their usual speed (1.7x faster than strided crops, measured
    # once on a loaded 2-core CPU).
    return [view.contiguous(memory_format=torch.channels_last) for view in views]


def _preview(arr: np.ndarray) -> np.ndarray:
    if arr.shape[0] <= PREVIEW_SIDE:
        return arr
    return np.asarray(Image.fromarray(arr).resize((PREVIEW_SIDE, PREVIEW_SIDE), Image.BILINEAR))


class Predictor:
    """A run's model on a device, ready for batches of files or arrays."""

    def __init__(
        self,
        loaded: RunModel,
        device: str = "auto",
        batch_size: int | None = None,
        tta: str = "none",
    ) -> None:
        self.tta = choice(tta, TTA_MODES, "test-time augmentation")
        self.loaded = loaded
        self.device = runtime.resolve_device(device)
        self.model = to_device(loaded.model, self.device).eval()
        self.size = loaded.input_size
        # Big batches feed a GPU; on a CPU small ones are faster per image (measured 1.4-3x
        # with ResNet18 / MobileNetV2 at batch 8 against 64: benchmarks/predict_latency.py).
        self.batch_size = batch_size or (64 if self.device.type == "cuda" else 8)
        self.amp = loaded.config.amp
        self.amp_dtype = getattr(loaded.config, "amp_dtype", "auto")  # the precision it trained in
        self.normalise = Normaliser(self.device, self.device.type == "cuda")
        self._geometry: FaceGeometry | None = None

    @property
    def geometry(self) -> FaceGeometry:
        """Where the run's training images had their faces (its ``framing.json``, or CelebA's
        aligned framing): read on the first framed request, so a damaged file fails only
        requests that frame, with the file named."""
        if self._geometry is None:
            try:
                self._geometry = geometry_of_run(self.loaded.run.path)
            except FramingError as exc:
                raise FramingError(
                    f"{exc.reason} (predict with Framing Off, or delete the file to frame "
                    "as CelebA's aligned images are)",
                    file=exc.file,
                    line=exc.line,
                ) from exc
        return self._geometry

    @classmethod
    def from_run(
        cls,
        run_dir: str | Path,
        device: str = "auto",
        batch_size: int | None = None,
        tta: str = "none",
    ) -> Predictor:
        return cls(load_run_model(run_dir), device, batch_size, tta)

    def describe(self) -> dict[str, Any]:
        cfg = self.loaded.config
        return {
            "run": str(self.loaded.run.path),
            "name": self.loaded.run.name,
            "backbone": cfg.model.backbone,
            "input_size": self.size,
            "checkpoint": self.loaded.checkpoint,
            "epoch": self.loaded.epoch,
            "device": runtime.device_name(self.device),
            "tta": self.tta,
        }

    def _tensor(self, squares: np.ndarray) -> torch.Tensor:
        # Decoded images are read-only views; np.require copies only those.
        block = np.require(squares, np.uint8, ["C_CONTIGUOUS", "WRITEABLE"])
        return self.normalise(torch.from_numpy(block).to(self.device).permute(0, 3, 1, 2))

    @torch.no_grad()
    def predict_arrays(self, squares: np.ndarray, tta: str | None = None) -> np.ndarray:
        """Probability of Male for a (N, size, size, 3) uint8 batch; with test-time
        augmentation (``tta``, default the predictor's own) the mean over the views."""
        mode = choice(self.tta if tta is None else tta, TTA_MODES, "test-time augmentation")
        out = []
        for start in range(0, len(squares), self.batch_size):
            batch = self._tensor(squares[start : start + self.batch_size])
            views = tta_views(batch, mode, self.size)
            total = self._probabilities(views[0])
            for view in views[1:]:  # a running sum: one view's probabilities held at a time
                total += self._probabilities(view)
            out.append((total / len(views)).cpu().numpy())
        return np.concatenate(out) if out else np.empty(0, dtype=np.float32)

    def _probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """One forward pass: sigmoid of the logits, in fp32."""
        with runtime.autocast(self.device, self.amp, self.amp_dtype):
            logits = self.model(x)
        return torch.sigmoid(logits.float())

    def predict_paths(
        self,
        paths: Iterable[str],
        framing: str = "off",
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        threads: int | None = None,
        tta: str | None = None,
    ) -> Iterator[list[PredictionRow]]:
        """Rows batch by batch, in input order, with ``framing`` (ml/config.FRAMING_MODES) and
        test-time augmentation ``tta`` (default: the predictor's own). Decoding of the next
        files overlaps the model's work on the current batch. At most ``2 * batch_size`` files are decoded ahead (memory
        stays bounded on a 200k-image folder when the model is the slower side), and a cancel
        waits only for the decodes already started."""
        files = list(paths)
        mode = choice(self.tta if tta is None else tta, TTA_MODES, "test-time augmentation")
        geometry = self.geometry if choice(framing, FRAMING_MODES, "framing") != "off" else None
        threads = threads or min(8, max(2, os.cpu_count() or 2))
        ahead = max(2 * self.batch_size, 2 * threads)
        feed = iter(files)
        done = 0
        pool = ThreadPoolExecutor(threads, thread_name_prefix="decode")

        def submit(file: str) -> Future[list[tuple[PredictionRow, np.ndarray | None]]]:
            return pool.submit(prepare_file, file, self.size, framing, geometry)

        try:
            queued = deque(submit(f) for f in itertools.islice(feed, ahead))
            pending: list[tuple[PredictionRow, np.ndarray | None]] = []
            while queued:
                items = queued.popleft().result()
                following = next(feed, None)
                if following is not None:
                    queued.append(submit(following))
                if cancel is not None and cancel.is_set():
                    return
                pending.extend(items)
                done += 1
                if sum(a is not None for _r, a in pending) >= self.batch_size or done == len(files):
                    yield self._finish(pending, mode)
                    pending = []
                    if progress is not None:
                        progress(done, len(files), "Predicting")
            if pending:
                yield self._finish(pending, mode)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _finish(
        self, items: list[tuple[PredictionRow, np.ndarray | None]], tta: str
    ) -> list[PredictionRow]:
        for row, _a in items:  # every row of the request says how it was predicted
            row.tta = tta
        arrays = [a for _r, a in items if a is not None]
        if arrays:
            probs = iter(self.predict_arrays(np.stack(arrays), tta).tolist())
            for row, arr in items:
                if arr is None:
                    continue
                p = float(next(probs))
                if math.isfinite(p):  # rounded as every CSV holds it: row and file agree
                    row.p_male = round(p, 6)
                else:  # NaN weights gave NaN, which read as a blank p_male and "Female"
                    row.error = "the model gave no number (NaN): its weights are damaged"
        return [row for row, _a in items]

    def grad_cam(self, square_image: np.ndarray) -> tuple[float, np.ndarray]:
        """(p_male, heatmap): the heatmap is (size, size) float32 in [0, 1], high where the
        evidence for the predicted class lies. Computed in fp32 at the deepest trunk block whose
        map is at least 7x7 (the last block at 224 px; at small input sizes the last block's
        2x2 map would colour whole quadrants)."""
        captured: dict[str, torch.Tensor] = {}

        def keeper(name: str):
            def keep(_module, _inputs, output):
                if output.requires_grad:
                    output.retain_grad()
                captured[name] = output

            return keep

        blocks = list(self.model.trunk.named_children())
        handles = [block.register_forward_hook(keeper(name)) for name, block in blocks]
        try:
            with torch.enable_grad():
                x = self._tensor(square_image[None]).float().requires_grad_(True)
                logit = self.model(x)[0]
                target = logit if logit.item() >= 0 else -logit
                self.model.zero_grad(set_to_none=True)
                target.backward()
        finally:
            for handle in handles:
                handle.remove()
        chosen = blocks[-1][0]
        for name, _block in reversed(blocks):
            if min(captured[name].shape[2:]) >= 7:
                chosen = name
                break
        activation = captured[chosen]
        a = activation.detach().float()
        g = activation.grad.float() if activation.grad is not None else torch.zeros_like(a)
        cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=(self.size, self.size), mode="bilinear", align_corners=False)
        cam = cam[0, 0]
        peak = float(cam.max())
        heat = (cam / peak).cpu().numpy() if peak > 0 else torch.zeros_like(cam).cpu().numpy()
        self.model.zero_grad(set_to_none=True)
        return float(torch.sigmoid(logit.detach().float())), heat.astype(np.float32)
