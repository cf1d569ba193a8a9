"""Prediction latency and throughput: image files on disk -> p_male, with the model loaded.

Measures, with the app's ``Predictor`` (decode with the safe loader, square crop, normalise,
forward pass, bf16 autocast on CUDA):
- single image: one file -> its result, one call per file (what dropping one photo on the
  Predict panel costs once the model is loaded): median and p95 over ``--single`` files;
- the same through the engine child process the GUI uses (``ml/service.py`` over
  multiprocessing queues, request sent -> rows received), to show the IPC overhead;
- a dropped phone photo (12 MP JPEG) the same way, where decoding dominates;
- a folder of ``--images`` files: images/s including decoding, and the model alone on
  pre-decoded batches for comparison.

Without ``--run`` it first trains a quick run (random weights, one head-only epoch on 96
synthetic images): the weights do not matter for timing.

    python benchmarks/predict_latency.py                                 # resnet18 on CPU
    python benchmarks/predict_latency.py --backbone mobilenet_v2 --json
    python benchmarks/predict_latency.py --device cuda                   # vgg16 by default
    python benchmarks/predict_latency.py --tta ten_crop --input-size 64  # test-time augmentation

Timings on CUDA synchronise the device before each clock read. Record the numbers, with the
machine named, in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CELEBA_SIZE = (178, 218)
PHOTO_SIZE = (4000, 3000)  # a 12 MP phone photo


def synthetic_jpegs(folder: Path, n: int, size: tuple[int, int], seed: int) -> list[Path]:
    """``n`` noisy red/blue JPEGs of ``size`` (reused when the folder already holds them)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{i + 1:06d}.jpg" for i in range(n)]
    marker = folder / ".complete"
    if marker.exists() and marker.read_text() == f"{n} {size}":
        return files
    rng = np.random.default_rng(seed)
    w, h = size
    for i, file in enumerate(files):
        base = np.array([170, 90, 80] if i % 5 < 2 else [90, 90, 170], dtype=np.float32)
        if w * h > 1_000_000:  # a smooth photo-like gradient: noise would make 15 MB files
            ramp = np.linspace(0.6, 1.2, w, dtype=np.float32)[None, :, None]
            arr = np.clip(base * ramp + rng.normal(0, 4, (h, 1, 3)), 0, 255)
            arr = np.broadcast_to(arr, (h, w, 3)).astype(np.uint8)
        else:
            arr = np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=90)
        file.write_bytes(buf.getvalue())
    marker.write_text(f"{n} {size}")
    return files


def quick_run(root: Path, backbone: str, size: int, device: str) -> Path:
    """A run folder from the real engine: random weights, one head-only epoch on 96 images."""
    from gender_desktop.ml.config import AugmentConfig, ModelConfig, TrainConfig
    from gender_desktop.ml.trainer import Trainer
    from gender_desktop.runs.folder import RunFolder

    data = root / "train-data"
    files = synthetic_jpegs(data / "img_align_celeba", 96, CELEBA_SIZE, seed=1)
    rows = [f"{f.name} {'1' if i % 5 < 2 else '-1'}" for i, f in enumerate(files)]
    (data / "list_attr_celeba.txt").write_text(f"{len(files)}\nMale \n" + "\n".join(rows) + "\n")
    config = TrainConfig(
        data=str(data),
        model=ModelConfig(backbone, "avg", (128,), 0.5, "head", size),
        augment=AugmentConfig(flip=False),
        weights="random",
        optimizer="adam",
        batch_size=32,
        epochs=1,
        device=device,
        workers=1,
    )
    run = RunFolder.create(f"latency-{backbone}", root / "runs")
    Trainer(config, run=run).run()
    return run.path


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {
        "median_ms": round(float(np.median(ms)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "min_ms": round(float(ms.min()), 1),
        "n": len(ms),
    }


def single_image(predictor: Any, files: list[Path]) -> list[float]:
    """One predict_paths call per file, as the Predict panel makes for one dropped photo."""
    times = []
    for file in files:
        sync(predictor.device)
        t0 = time.perf_counter()
        rows = [r for batch in predictor.predict_paths([str(file)]) for r in batch]
        sync(predictor.device)
        times.append(time.perf_counter() - t0)
        assert rows[0].error == "" and rows[0].p_male is not None, rows[0]
    return times


def folder_throughput(predictor: Any, files: list[Path]) -> float:
    sync(predictor.device)
    t0 = time.perf_counter()
    count = sum(len(batch) for batch in predictor.predict_paths([str(f) for f in files]))
    sync(predictor.device)
    assert count == len(files)
    return time.perf_counter() - t0


def model_only(predictor: Any, files: list[Path]) -> float:
    """The forward passes alone, on the files already decoded to squares (batch_size each)."""
    from gender_desktop.data.images import load_square

    squares = np.stack([load_square(f.read_bytes(), f.name, predictor.size) for f in files])
    predictor.predict_arrays(squares[: predictor.batch_size])  # warm-up at the batch shape
    sync(predictor.device)
    t0 = time.perf_counter()
    predictor.predict_arrays(squares)
    sync(predictor.device)
    return time.perf_counter() - t0


def tta_costs(predictor: Any, files: list[Path], repeats: int) -> dict[str, Any]:
    """The model's ms per image on pre-decoded squares for every test-time augmentation mode,
    the modes interleaved and the best of ``repeats`` kept: on a shared machine another
    process's burst then hits one repetition, not one mode."""
    from gender_desktop.data.images import load_square
    from gender_desktop.ml.config import TTA_MODES

    squares = np.stack([load_square(f.read_bytes(), f.name, predictor.size) for f in files])
    best: dict[str, float] = {}
    for _ in range(repeats):
        for mode in TTA_MODES:
            predictor.predict_arrays(squares[: predictor.batch_size], tta=mode)  # warm-up
            sync(predictor.device)
            t0 = time.perf_counter()
            predictor.predict_arrays(squares, tta=mode)
            sync(predictor.device)
            ms = 1000 * (time.perf_counter() - t0) / len(squares)
            best[mode] = min(best.get(mode, ms), ms)
    return {
        "images": len(squares),
        "repeats": repeats,
        "batch_size": predictor.batch_size,
        **predictor.describe(),
        "cpu": cpu_name(),
        "model_ms_per_image": {mode: round(ms, 2) for mode, ms in best.items()},
        "relative_to_none": {mode: round(ms / best["none"], 2) for mode, ms in best.items()},
    }


def format_costs(costs: dict[str, Any], predictor: Any) -> str:
    head = (
        f"{costs['backbone']} · {costs['input_size']} px · {costs['device']} · batch "
        f"{costs['batch_size']} · {costs['cpu']} · best of {costs['repeats']} on "
        f"{costs['images']} pre-decoded images"
    )
    rows = [
        f"TTA {mode:<9} {ms:8.2f} ms/image  ({costs['relative_to_none'][mode]:.1f}x)"
        for mode, ms in costs["model_ms_per_image"].items()
    ]
    return "\n".join([head, *rows])


def through_engine(run: Path, device: str, files: list[Path]) -> tuple[float, list[float]]:
    """The GUI's path: the engine in a child of the one process layer (``procs.Child``);
    time from sending a ``predict`` request for one file to receiving its ``rows`` reply."""
    from gender_desktop.procs import FAILED, ROWS, Child

    child = Child("gender_desktop.ml.service:Engine", "benchmark engine")

    def ask(kind: str, **args: Any) -> tuple[float, Any]:
        t0 = time.perf_counter()
        rid = child.send(kind, **args)
        first_rows = None
        while True:
            reply = child.receive(600)
            if reply is None or reply.rid != rid:
                continue
            if reply.kind == ROWS and first_rows is None:
                first_rows = time.perf_counter() - t0
            elif reply.kind == FAILED:
                raise RuntimeError(str(reply.payload))
            elif reply.final:
                return (first_rows if first_rows is not None else time.perf_counter() - t0), (
                    reply.payload
                )

    try:
        t0 = time.perf_counter()
        ask("load", run=str(run), device=device)  # child start + torch + model
        startup = time.perf_counter() - t0
        base = {"run": str(run), "device": device, "framing": "off"}
        ask("predict", **base, paths=[str(files[0])])  # warm-up
        times = [ask("predict", **base, paths=[str(f)])[0] for f in files]
    finally:
        child.close(wait_s=30)
    return startup, times


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run folder (default: train a quick one)")
    parser.add_argument(
        "--backbone",
        choices=["vgg16", "vgg16_bn", "resnet50", "resnet18", "mobilenet_v2"],
        help="for the quick run (default: resnet18 on CPU, vgg16 on CUDA)",
    )
    parser.add_argument("--input-size", type=int, default=224, help="for the quick run")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--batch-size", type=int, default=64, help="Predictor batch size")
    parser.add_argument("--single", type=int, default=50, help="files for the latency test")
    parser.add_argument("--photos", type=int, default=10, help="12 MP photos (0: skip)")
    parser.add_argument("--images", type=int, default=1000, help="files in the folder test")
    parser.add_argument("--no-engine", action="store_true", help="skip the engine child")
    parser.add_argument(
        "--tta",
        default="none",
        help="test-time augmentation of the in-process tests: none, flip or ten_crop "
        "(ml/config.TTA_MODES; the engine child predicts without); 'all' measures only the "
        "model's ms per image in every mode, interleaved, the best of --repeats",
    )
    parser.add_argument("--repeats", type=int, default=5, help="for --tta all")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "gd-predict")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--json-out", type=Path, help="also write the JSON object to this file")
    args = parser.parse_args()
    os.environ.setdefault("GENDER_DESKTOP_HOME", tempfile.mkdtemp(prefix="gd-predict-bench-"))

    import torch

    from gender_desktop.ml import runtime
    from gender_desktop.ml.config import TTA_MODES
    from gender_desktop.ml.predictor import Predictor

    if args.tta not in (*TTA_MODES, "all"):
        parser.error(f"--tta must be one of {', '.join(TTA_MODES)} or all")
    device = runtime.resolve_device(args.device)
    backbone = args.backbone or ("vgg16" if device.type == "cuda" else "resnet18")
    root = args.root
    folder = synthetic_jpegs(root / f"folder-{args.images}", args.images, CELEBA_SIZE, seed=0)
    singles = synthetic_jpegs(root / f"single-{args.single}", args.single, CELEBA_SIZE, seed=2)
    photos = synthetic_jpegs(root / f"photos-{args.photos}", args.photos, PHOTO_SIZE, seed=3)

    t0 = time.perf_counter()
    run = args.run or quick_run(root, backbone, args.input_size, device.type)
    train_s = time.perf_counter() - t0 if args.run is None else None
    t0 = time.perf_counter()
    if args.tta == "all":
        predictor = Predictor.from_run(run, device.type, args.batch_size)
        costs = tta_costs(predictor, folder, args.repeats)
        print(json.dumps(costs, indent=2) if args.json else format_costs(costs, predictor))
        if args.json_out:
            from gender_desktop.fileio import atomic_write_json

            atomic_write_json(args.json_out, costs)
        return 0
    predictor = Predictor.from_run(run, device.type, args.batch_size, args.tta)
    load_s = time.perf_counter() - t0
    described = predictor.describe()

    single_image(predictor, singles[:3])  # warm-up: first calls, allocator, cudnn autotune
    result: dict[str, Any] = {
        "run": str(run),
        "backbone": described["backbone"],
        "input_size": described["input_size"],
        "device": described["device"],
        "cpu": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "batch_size": args.batch_size,
        "tta": args.tta,
        "quick_run_train_seconds": None if train_s is None else round(train_s, 1),
        "model_load_seconds": round(load_s, 2),
        "single_image": stats_ms(single_image(predictor, singles)),
    }
    if photos:
        result["single_photo_12mp"] = stats_ms(single_image(predictor, photos))
    folder_s = folder_throughput(predictor, folder)
    result["folder"] = {
        "images": len(folder),
        "seconds": round(folder_s, 2),
        "images_per_second": round(len(folder) / folder_s, 1),
    }
    compute_s = model_only(predictor, folder)
    result["model_only_images_per_second"] = round(len(folder) / compute_s, 1)
    result["model_only_ms_per_image"] = round(1000 * compute_s / len(folder), 2)
    if not args.no_engine:
        del predictor  # the child loads its own copy; free this one's memory first
        startup, times = through_engine(run, device.type, singles)
        result["engine"] = {"startup_seconds": round(startup, 1), **stats_ms(times)}
        result["engine"]["ipc_overhead_ms"] = round(
            result["engine"]["median_ms"] - result["single_image"]["median_ms"], 1
        )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    if args.json_out:
        from gender_desktop.fileio import atomic_write_json

        atomic_write_json(args.json_out, result)
    return 0


def format_table(r: dict[str, Any]) -> str:
    def latency(s: dict[str, float]) -> str:
        return f"median {s['median_ms']:.1f} ms · p95 {s['p95_ms']:.1f} ms (n={s['n']})"

    f = r["folder"]
    rows = [
        ("model load (run folder -> ready)", f"{r['model_load_seconds']:.2f} s"),
        ("single image, in process", latency(r["single_image"])),
    ]
    if "single_photo_12mp" in r:
        rows.append(("single 12 MP photo, in process", latency(r["single_photo_12mp"])))
    rows += [
        (
            f"folder of {f['images']:,} images, incl. decode",
            f"{f['images_per_second']:,.0f} img/s ({f['seconds']:.2f} s)",
        ),
        ("model only, pre-decoded", f"{r['model_only_images_per_second']:,.0f} img/s"),
    ]
    if "engine" in r:
        e = r["engine"]
        rows += [
            (
                "single image, engine child (GUI path)",
                f"{latency(e)}, IPC +{e['ipc_overhead_ms']} ms",
            ),
            ("engine child start + model load", f"{e['startup_seconds']:.1f} s"),
        ]
    width = max(len(name) for name, _ in rows)
    head = (
        f"{r['backbone']} · {r['input_size']} px · {r['device']} · batch {r['batch_size']} · "
        f"TTA {r.get('tta', 'none')} · "
        f"{r['cpu']} ({r['cpu_cores']} cores, {r['torch_threads']} torch threads) · "
        f"torch {r['torch']}"
    )
    return "\n".join([head, *(f"{name:<{width}}  {value}" for name, value in rows)])


if __name__ == "__main__":
    sys.exit(main())
