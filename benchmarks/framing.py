"""Framing benchmark: held-out faces placed in cluttered canvases, predicted five ways.

Each held-out face image (default: the demo dataset's test split; ``--data`` any dataset) is
pasted at a random scale (20-100 % of the canvas side), position and rotation (±10°) into a
larger canvas with clutter (a gradient, random shapes, noise; all seeded). Then accuracy and
time per image for:

- ``original``: the face image itself, framing off (as the model's own test set);
- ``canvas``: the canvas, framing off (what a photo from elsewhere looks like, uncut);
- ``box``: the reference, the old "Crop faces": a square twice the detector's box, the
  largest face; no face found counts as wrong;
- ``faces``: framing "faces", the largest face framed like the run's training images
  (``ml/framing``, the run's ``geometry_of_run``); no face found counts as wrong;
- ``auto``: framing "auto", the Predict panel's default: the same, but an image without a face
  is predicted whole.

Every file goes through the predictor's own preparation (``ml/predictor.prepare_file``: the safe
decoder, ``images.square``), so the numbers mean what the app does. ``--tta flip`` (or
``ten_crop``) adds the same rows with test-time augmentation. Without ``--run`` a small run is
trained first with the CLI (``gender-desktop train``) on the dataset's train split: ResNet18,
64 px, random weights, a few epochs (it says so in the output).

    python benchmarks/framing.py --quick                 # < 60 s on a laptop CPU
    python benchmarks/framing.py --run RUN_DIR --data DATASET --canvases 3 --json-out out.json
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).parent))
from predict_latency import cpu_name

CONDITIONS = ("original", "canvas", "box", "faces", "auto")
FRAMING = {"original": "off", "canvas": "off", "faces": "faces", "auto": "auto"}  # predict modes
SCALES = (0.2, 1.0)  # face image's longer side / canvas side
MAX_ROTATION = 10.0  # degrees either way


# -- canvases -----------------------------------------------------------------------------------
def clutter(rng: np.random.Generator, side: int) -> Image.Image:
    """A busy background: a two-colour gradient, random shapes, blur and noise."""
    a, b = rng.integers(0, 256, (2, 3)).astype(np.float32)
    t = np.linspace(0, 1, side, dtype=np.float32)
    ramp = t[:, None] if rng.random() < 0.5 else t[None, :]
    base = a + (b - a) * np.broadcast_to(ramp, (side, side))[..., None]
    img = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 16))):
        x0, y0 = rng.integers(0, side, 2)
        w, h = rng.integers(side // 20, side // 3, 2)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            points = [tuple(int(v) for v in p) for p in rng.integers(0, side, (3, 2))]
            draw.polygon(points, fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 2))))
    noisy = np.asarray(img, np.float32) + rng.normal(0, 8, (side, side, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def place(face: Image.Image, rng: np.random.Generator, side: int) -> Image.Image:
    """``face`` scaled so its longer side is 20-100 % of ``side``, rotated up to ±10°, pasted
    at a random position inside a cluttered ``side`` x ``side`` canvas."""
    canvas = clutter(rng, side)
    scale = rng.uniform(*SCALES) * side / max(face.size)
    size = (max(8, round(face.width * scale)), max(8, round(face.height * scale)))
    small = face.convert("RGBA").resize(size, Image.BILINEAR)
    turned = small.rotate(
        float(rng.uniform(-MAX_ROTATION, MAX_ROTATION)), Image.BILINEAR, expand=True
    )
    if max(turned.size) > side:  # a full-size face turned: shrink back into the canvas
        turned = turned.resize(
            tuple(max(8, int(v * side / max(turned.size))) for v in turned.size), Image.BILINEAR
        )
    x = int(rng.integers(0, side - turned.width + 1))
    y = int(rng.integers(0, side - turned.height + 1))
    canvas.paste(turned, (x, y), turned)
    return canvas


# -- the held-out faces -------------------------------------------------------------------------
@dataclass
class Faces:
    """Held-out face files written to a work folder, with their labels (True = Male)."""

    originals: list[Path]
    canvases: list[Path]  # ``per`` canvases per original, in order
    male: np.ndarray  # per original
    per: int
    source: str


def held_out(data: Path, split: str, limit: int | None, work: Path, per: int, seed: int) -> Faces:
    """The dataset's ``split`` images (first ``limit``) and ``per`` seeded canvases of each,
    saved as JPEG (quality 92, as a phone or a web page would give them)."""
    from gender_desktop.data.dataset import open_dataset
    from gender_desktop.data.images import decode

    dataset = open_dataset(data)
    rows = np.flatnonzero((dataset.table["split"] == split).to_numpy())[:limit]
    if not len(rows):
        raise SystemExit(f"{data}: the {split} split has no images")
    (work / "originals").mkdir(parents=True, exist_ok=True)
    (work / "canvases").mkdir(exist_ok=True)
    originals, canvases = [], []
    for k, row in enumerate(rows):
        raw = dataset.read_bytes(int(row))
        originals.append(work / "originals" / f"{k:05d}.jpg")
        originals[-1].write_bytes(raw)
        face = decode(raw, str(originals[-1]))
        for j in range(per):
            rng = np.random.default_rng([seed, k, j])
            canvases.append(work / "canvases" / f"{k:05d}-{j}.jpg")
            buf = io.BytesIO()
            place(face, rng, side=max(400, 2 * max(face.size))).save(buf, "JPEG", quality=92)
            canvases[-1].write_bytes(buf.getvalue())
    male = np.asarray(dataset.table["Male"].to_numpy()[rows]).astype(float) > 0
    return Faces(originals, canvases, male, per, str(data))


# -- predicting each condition ------------------------------------------------------------------
@dataclass
class Outcome:
    """One condition's predictions: p_male per image (NaN = no face found), seconds spent."""

    p_male: list[float] = field(default_factory=list)
    framed: dict[str, int] = field(default_factory=dict)  # how many images were framed how
    prepare_s: float = 0.0
    model_s: float = 0.0


def old_crop(img: Image.Image, box: Any) -> Image.Image:
    """The reference: what "Crop faces" did before issue 12, a square twice the detector's box
    around it (a tenth of its height lower), black beyond the photo. Kept here, measured in
    the same run as the new framing, not in the app."""
    side = round(max(box.width, box.height) * 2.0)
    cx = box.left + box.width / 2
    cy = box.top + box.height / 2 + box.height * 0.1
    left, top = round(cx - side / 2), round(cy - side / 2)
    return img.crop((left, top, left + side, top + side))


def prepare(condition: str, path: Path, size: int, geometry: Any) -> tuple[np.ndarray | None, str]:
    """(model input, how it was framed) for one file under ``condition``; the input is None
    when no face was found. Every condition but the old crop is the predictor's own
    ``prepare_file`` with a framing mode, the largest face's row."""
    from gender_desktop.data.images import decode, square
    from gender_desktop.ml.faces import detect_faces
    from gender_desktop.ml.predictor import _read, prepare_file

    if condition == "box":
        img = decode(_read(str(path)), str(path))
        boxes = detect_faces(img)
        return (square(old_crop(img, boxes[0]), size), "box") if boxes else (None, "no face")
    row, arr = prepare_file(str(path), size, FRAMING[condition], geometry)[0]
    if arr is None and row.error != "no face found":
        raise SystemExit(f"{path}: {row.error}")
    return arr, row.framed or "no face"


def predict(predictor: Any, files: list[Path], condition: str, geometry: Any, tta: str) -> Outcome:
    out = Outcome()
    arrays: list[np.ndarray | None] = []
    t0 = time.perf_counter()
    for path in files:
        arr, how = prepare(condition, path, predictor.size, geometry)
        arrays.append(arr)
        kind = "face k of n" if how.startswith("face ") else how
        out.framed[kind] = out.framed.get(kind, 0) + 1
    out.prepare_s = time.perf_counter() - t0
    found = [a for a in arrays if a is not None]
    t0 = time.perf_counter()
    probs = iter(predictor.predict_arrays(np.stack(found), tta=tta).tolist() if found else [])
    out.model_s = time.perf_counter() - t0
    out.p_male = [float(next(probs)) if a is not None else float("nan") for a in arrays]
    return out


def score(outcome: Outcome, male: np.ndarray) -> dict[str, Any]:
    p = np.array(outcome.p_male)
    missed = np.isnan(p)
    right = ~missed & ((p >= 0.5) == male)
    n = len(p)
    return {
        "n": n,
        "accuracy": round(float(right.mean()), 4),
        "no_face": int(missed.sum()),
        "accuracy_where_found": round(float(right[~missed].mean()), 4) if (~missed).any() else None,
        "ms_per_image": round(1000 * (outcome.prepare_s + outcome.model_s) / n, 2),
        "prepare_ms_per_image": round(1000 * outcome.prepare_s / n, 2),
        "framed": outcome.framed,
    }


# -- a run when none is given ---------------------------------------------------------------------
def train_quick_run(data: Path, root: Path, epochs: int) -> Path:
    """A small run trained with the CLI on ``data``'s train split: ResNet18 at 64 px, random
    weights, all layers, Adam."""
    runs = root / "runs"
    command = [
        sys.executable, "-m", "gender_desktop", "train", "--data", str(data),
        "--backbone", "resnet18", "--input-size", "64", "--weights", "random",
        "--scope", "all", "--hidden", "64", "--optimizer", "adam", "--lr", "0.001",
        "--batch-size", "32", "--epochs", str(epochs), "--workers", "1",
        "--runs-dir", str(runs), "--name", "framing-bench", "--no-track",
    ]  # fmt: skip
    print("training a run:", " ".join(command[2:]), file=sys.stderr)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return max(runs.iterdir(), key=lambda p: p.stat().st_mtime)


# -- output -------------------------------------------------------------------------------------
LABELS = {
    "original": "original images (framing off)",
    "canvas": "canvas, framing off",
    "box": "detector's box ×2 (the old Crop faces)",
    "faces": "framing Faces only (no face: wrong)",
    "auto": "framing Auto (no face: the whole canvas)",
}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['faces']} held-out faces from {result['data']} · {result['per']} canvases each "
        f"· run {result['run']} ({result['backbone']}, {result['input_size']} px)"
        + (" · trained here" if result["trained_here"] else "")
        + f" · {result['machine']}",
        "",
        "| input | TTA | accuracy | no face found | accuracy where found | same faces | "
        "ms / image |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        found, same = row["accuracy_where_found"], row["same_faces"]
        lines.append(
            f"| {LABELS[row['condition']]} | {row['tta']} | {row['accuracy']:.3f} | "
            f"{row['no_face']} / {row['n']} | {'' if found is None else f'{found:.3f}'} | "
            f"{'' if same is None else f'{same:.3f}'} | {row['ms_per_image']:.1f} |"
        )
    if result["rows"]:
        lines.append(
            f"\nsame faces: accuracy on the {result['rows'][0]['same_faces_n']} canvases whose "
            "face the framing found (each original once per such canvas)"
        )
    for row in result["rows"]:
        if row["condition"] == "auto":
            how = ", ".join(f"{kind} {count}" for kind, count in sorted(row["framed"].items()))
            lines.append(f"\nframing Auto ({row['tta']}): {how}")
    lines += [f"\n{note}" for note in result["notes"]]
    seconds = result["seconds"]
    trained = "" if seconds["train"] is None else f"training {seconds['train']:.0f} s, "
    lines.append(
        f"\n{seconds['total']:.0f} s in all ({trained}canvases {seconds['canvases']:.0f} s)"
    )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run folder (default: train a small one)")
    parser.add_argument("--data", type=Path, help="a dataset (default: the demo dataset)")
    parser.add_argument("--split", default="test", help="the held-out split to use")
    parser.add_argument("--limit", type=int, help="at most this many held-out faces")
    parser.add_argument("--canvases", type=int, default=2, help="canvases per face")
    parser.add_argument("--epochs", type=int, default=6, help="for the run trained here")
    parser.add_argument("--tta", default="none", help="also predict with flip or ten_crop")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--quick", action="store_true", help="small: 300 demo faces, 2 epochs")
    parser.add_argument("--root", type=Path, help="work folder (default: a new temp folder)")
    parser.add_argument("--json-out", type=Path, help="also write the JSON result here")
    return parser.parse_args()


def make_inputs(args: argparse.Namespace, root: Path) -> tuple[Path, Path, int, float]:
    """(dataset, run, epochs, training seconds): the demo dataset generated when none is given,
    a run trained here when none is given."""
    from gender_desktop.data import demo

    data = args.data
    if data is None:
        count = 300 if args.quick else demo.DEFAULT_COUNT
        data = root / f"demo-{count}"
        if not (data / "SYNTHETIC_DEMO").exists():
            demo.generate(data, count)
    epochs = 2 if args.quick and args.run is None else args.epochs
    t0 = time.perf_counter()
    run = args.run or train_quick_run(data, root, epochs)
    return data, run, epochs, time.perf_counter() - t0


def measure(predictor: Any, faces: Faces, geometry: Any, tta_modes: list[str]) -> list[dict]:
    """One result row per (TTA, condition). ``same_faces``: each condition's accuracy on the
    canvases whose face the framing found (an original counts once per such canvas), the one
    like-for-like comparison of the inputs: the cascade's misses weigh on no row."""
    predictor.predict_arrays(np.zeros((2, predictor.size, predictor.size, 3), np.uint8))  # warm
    rows = []
    for tta in tta_modes:
        right: dict[str, np.ndarray] = {}
        for condition in CONDITIONS:
            files = faces.originals if condition == "original" else faces.canvases
            male = faces.male if condition == "original" else np.repeat(faces.male, faces.per)
            outcome = predict(predictor, files, condition, geometry, tta)
            p = np.array(outcome.p_male)
            correct = ~np.isnan(p) & ((p >= 0.5) == male)
            right[condition] = np.repeat(correct, faces.per) if condition == "original" else correct
            if condition == "faces":
                found = ~np.isnan(p)  # the canvases whose face the framing found
            rows.append({"condition": condition, "tta": tta, **score(outcome, male)})
        for row in rows[-len(CONDITIONS) :]:
            kept = right[row["condition"]][found]
            row["same_faces"] = round(float(kept.mean()), 4) if found.any() else None
            row["same_faces_n"] = int(found.sum())
    return rows


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    root = args.root or Path(tempfile.mkdtemp(prefix="gd-framing-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GENDER_DESKTOP_HOME", str(root / "home"))

    from gender_desktop.ml.config import TTA_MODES
    from gender_desktop.ml.predictor import Predictor

    if args.tta not in TTA_MODES:
        raise SystemExit(f"--tta must be one of {', '.join(TTA_MODES)}")
    data, run, epochs, train_s = make_inputs(args, root)
    t0 = time.perf_counter()
    faces = held_out(data, args.split, args.limit, root / "faces", args.canvases, args.seed)
    canvas_s = time.perf_counter() - t0
    predictor = Predictor.from_run(run, args.device)
    geometry = predictor.geometry
    notes = [f"run geometry: {geometry}"]
    if args.run is None:
        notes.append(
            f"run trained here with the CLI: ResNet18, 64 px, random weights, {epochs} epochs "
            f"on {data.name}'s train split."
        )
    modes = ["none"] + ([args.tta] if args.tta != "none" else [])
    rows = measure(predictor, faces, geometry, modes)
    described = predictor.describe()
    result = {
        "data": faces.source,
        "faces": len(faces.originals),
        "per": faces.per,
        "run": str(run),
        "trained_here": args.run is None,
        "backbone": described["backbone"],
        "input_size": described["input_size"],
        "device": described["device"],
        "machine": f"{cpu_name()} ({os.cpu_count()} cores), {described['device']}",
        "rows": rows,
        "notes": notes,
        "seconds": {
            "train": round(train_s, 1) if args.run is None else None,
            "canvases": round(canvas_s, 1),
            "total": round(time.perf_counter() - started, 1),
        },
    }
    print(markdown(result))
    if args.json_out:
        from gender_desktop.fileio import atomic_write_json

        atomic_write_json(args.json_out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
