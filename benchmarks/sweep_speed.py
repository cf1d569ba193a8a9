"""The notebooks' six-run frozen grid as one sweep against six separate runs, in one process.

The grid: learning rate 1e-3, 1e-4 x batch 32, 64, 128, backbone frozen (scope head), no
augmentation. As a sweep, every trial trains on the same cached backbone features (one
SharedInputs), so the grid costs one pass of the backbone plus the heads; as six separate runs
(six Trainers, no SharedInputs) each run computes the features again. The decoded images are
cached on disk first, so both sides start from the same warm decode cache and the difference is
the backbone passes. Target: the whole grid in under 1.5 times one separate run.

    python benchmarks/sweep_speed.py                                  # 20,000 images, VGG16, 224 px
    python benchmarks/sweep_speed.py --images 2000 --backbone resnet18 --input-size 96 --epochs 3

Prints a JSON object: the grid's wall time, the six runs' wall times, the ratios, the feature
passes of each side, and the device. Record the numbers, with the CPU or GPU named, in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from predict_latency import cpu_name
from train_throughput import build_dataset

LRS = (1e-3, 1e-4)
BATCHES = (32, 64, 128)


def base_config(root: Path, args: argparse.Namespace):
    from gender_desktop.ml.config import AugmentConfig, ModelConfig, TrainConfig

    return TrainConfig(
        data=str(root),
        model=ModelConfig(args.backbone, "avg", (128,), 0.5, "head", args.input_size),
        augment=AugmentConfig(flip=False),
        weights=args.weights,
        optimizer="sgd",
        epochs=args.epochs,
        device=args.device,
        workers=args.workers,
    )


def warm_decode_cache(root: Path, args: argparse.Namespace) -> float:
    """Decode the images once into the app's on-disk cache (both sides then reuse it)."""
    from gender_desktop.data.dataset import open_dataset
    from gender_desktop.ml.pipeline import DecodedImages

    t0 = time.perf_counter()
    DecodedImages.build(open_dataset(str(root)), args.input_size, args.workers or None)
    return time.perf_counter() - t0


def as_sweep(root: Path, args: argparse.Namespace, work: Path) -> dict:
    from gender_desktop.ml.inputs import SharedInputs
    from gender_desktop.sweeps.runner import run_sweep
    from gender_desktop.sweeps.space import parse_space
    from gender_desktop.sweeps.spec import SweepSpec

    space = parse_space(["lr=" + ",".join(map(str, LRS)), "batch=" + ",".join(map(str, BATCHES))])
    spec = SweepSpec(base_config(root, args), space, storage=f"sqlite:///{work / 'sweeps.db'}")
    shared = SharedInputs()
    t0 = time.perf_counter()
    summary = run_sweep(spec, work / "sweep-runs", shared=shared)
    seconds = time.perf_counter() - t0
    assert summary.counts == {"finished": 6}, summary.counts
    return {"seconds": round(seconds, 2), "feature_passes": shared.feature_passes}


def as_separate_runs(root: Path, args: argparse.Namespace, work: Path) -> dict:
    from gender_desktop.ml.trainer import Trainer
    from gender_desktop.runs.folder import RunFolder

    times = []
    for lr in LRS:
        for batch in BATCHES:
            config = base_config(root, args)
            config.lr, config.batch_size = lr, batch
            run = RunFolder.create(f"lr{lr}-b{batch}", work / "separate-runs")
            t0 = time.perf_counter()
            Trainer(config, run).run()
            times.append(round(time.perf_counter() - t0, 2))
    return {"seconds": round(sum(times), 2), "per_run": times, "feature_passes": len(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "celeba-like")
    parser.add_argument("--backbone", default="vgg16")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--weights", default="random", help="imagenet needs the download")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json-out", type=Path, help="also write the JSON object to this file")
    args = parser.parse_args()
    os.environ.setdefault("GENDER_DESKTOP_HOME", tempfile.mkdtemp(prefix="gd-sweep-bench-"))
    root = build_dataset(args.root / str(args.images), args.images)
    work = Path(tempfile.mkdtemp(prefix="gd-sweep-bench-work-"))

    from gender_desktop.ml.runtime import device_name, resolve_device

    decode = warm_decode_cache(root, args)
    separate = as_separate_runs(root, args, work)
    sweep = as_sweep(root, args, work)
    one_run = separate["per_run"][0]
    result = {
        "grid": "lr 1e-3,1e-4 x batch 32,64,128, scope head, no augmentation",
        "images": args.images,
        "backbone": args.backbone,
        "input_size": args.input_size,
        "epochs": args.epochs,
        "device": device_name(resolve_device(args.device)),
        "cpu": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "decode_cache_seconds": round(decode, 2),
        "sweep": sweep,
        "separate_runs": separate,
        "sweep_over_one_run": round(sweep["seconds"] / one_run, 2),
        "sweep_over_six_runs": round(sweep["seconds"] / separate["seconds"], 3),
        "target": "sweep_over_one_run < 1.5",
    }
    print(json.dumps(result, indent=2))
    if args.json_out:
        from gender_desktop.fileio import atomic_write_json

        atomic_write_json(args.json_out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
