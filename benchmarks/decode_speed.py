"""The one-time decode into the cache: the CPU worker processes against batched nvjpeg.

Builds the decode cache of the same generated JPEGs twice, into fresh folders: once with the
GPU decode switched off (GENDER_DESKTOP_GPU_DECODE=0: one worker process per core, Pillow)
and, where CUDA is present, once with it on (torchvision's nvjpeg, batches of 64), and
compares the pixels. The engine decodes on the GPU whenever CUDA is present; if this shows
the CPU workers faster on a machine, that default is the one to change.

    python benchmarks/decode_speed.py --images 30000 --input-size 224 --json-out decode.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from train_throughput import build_dataset


def timed_build(dataset, size: int, workers: int | None, gpu: bool, folder: Path):
    """Seconds to build the cache into the empty ``folder``, and the images built."""
    import torch

    from gender_desktop.ml import gpu_decode
    from gender_desktop.ml.pipeline import DecodedImages

    os.environ[gpu_decode.GPU_DECODE_ENV] = "1" if gpu else "0"
    t0 = time.perf_counter()
    device = torch.device("cuda") if gpu else None  # the GPU path: a run training on CUDA
    images = DecodedImages.build(dataset, size, workers, folder=folder, decode_device=device)
    return time.perf_counter() - t0, images


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30_000)
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "celeba-like")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=0, help="CPU decode processes (0: cores)")
    parser.add_argument("--json-out", type=Path, help="also write the JSON object to this file")
    args = parser.parse_args()
    os.environ.setdefault("GENDER_DESKTOP_HOME", tempfile.mkdtemp(prefix="gd-decode-home-"))
    root = build_dataset(args.root / str(args.images), args.images)

    from gender_desktop.data.dataset import open_dataset

    dataset = open_dataset(root)
    scratch = Path(tempfile.mkdtemp(prefix="gd-decode-bench-"))  # 4.5 GB a cache at 30k/224 px
    try:
        result = compare(dataset, args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.json_out:
        from gender_desktop.fileio import atomic_write_json

        atomic_write_json(args.json_out, result)
    return 0


def compare(dataset, args: argparse.Namespace, scratch: Path) -> dict:
    import numpy as np
    import torch

    workers = args.workers or None
    cpu_s, cpu = timed_build(dataset, args.input_size, workers, False, scratch / "cpu")
    result: dict = {
        "images": args.images,
        "input_size": args.input_size,
        "cpu_cores": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_workers_seconds": round(cpu_s, 2),
        "cpu_workers_images_per_second": round(args.images / cpu_s, 1),
    }
    if torch.cuda.is_available():
        gpu_s, gpu = timed_build(dataset, args.input_size, workers, True, scratch / "gpu")
        k = min(len(cpu.array), 2000)  # a sample: the whole difference would need 9 GB
        diff = np.abs(gpu.array[:k].astype(np.int16) - cpu.array[:k].astype(np.int16))
        result.update(
            nvjpeg_seconds=round(gpu_s, 2),
            nvjpeg_images_per_second=round(args.images / gpu_s, 1),
            nvjpeg_speedup=round(cpu_s / gpu_s, 2),
            mean_abs_pixel_difference=round(float(diff.mean()), 3),
        )
    return result


if __name__ == "__main__":
    sys.exit(main())
