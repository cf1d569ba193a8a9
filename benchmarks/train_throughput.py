"""End-to-end training throughput: JPEG files on disk -> trained steps, per trainable scope,
against a plain reference loop written the way tutorials do it.

For each scope (head only, last block + head, whole network) it times the app's engine
(decode once to the memory-mapped cache, batched augmentation on the device, AMP and
channels-last on CUDA, cached features for head-only) and the reference (a Dataset that opens
every file with PIL and applies torchvision transforms, a DataLoader with workers, fp32).

    python benchmarks/train_throughput.py                      # 20,000 images, VGG16, 224 px
    python benchmarks/train_throughput.py --images 512 --backbone resnet18 --input-size 64 --epochs 1
    python benchmarks/train_throughput.py --device cuda --batch-size 256 --compile --json-out r.json

Prints a JSON object with images/s per scope for both loops, the one-time decode cost, the
head-only wall time for 10 epochs, and the device. Record the numbers, with the GPU named, in
docs/benchmarks.md.
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

import numpy as np
from PIL import Image


def _write_jpegs(job: tuple[Path, int, int, list[bool]]) -> None:
    """One slice of the generated images (a worker process's share)."""
    images, start, seed, male = job
    rng = np.random.default_rng(seed)
    for k, is_male in enumerate(male):
        base = np.array([150, 90, 80] if is_male else [90, 90, 160], dtype=np.float32)
        noise = rng.normal(0, 40, (218, 178, 3))
        arr = np.clip(base + noise, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=90)
        (images / f"{start + k + 1:06d}.jpg").write_bytes(buf.getvalue())


def build_dataset(root: Path, n: int) -> Path:
    """``n`` CelebA-sized (178x218) JPEGs with a colour signal, in the official layout;
    written by one process per core (30,000 files take a minute on one)."""
    from concurrent.futures import ProcessPoolExecutor

    marker = root / ".complete"
    if marker.exists() and marker.read_text() == str(n):
        return root
    images = root / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    male = rng.random(n) < 0.42
    step = 500
    jobs = [(images, s, s, male[s : s + step].tolist()) for s in range(0, n, step)]
    with ProcessPoolExecutor(min(len(jobs), os.cpu_count() or 2)) as pool:
        list(pool.map(_write_jpegs, jobs))
    attrs = ["Male", "Young"]
    rows = [f"{nm} {'1' if m else '-1'}  1" for nm, m in zip(names, male, strict=True)]
    (root / "list_attr_celeba.txt").write_text(
        f"{n}\n{' '.join(attrs)} \n" + "\n".join(rows) + "\n"
    )
    n_train, n_val = int(n * 0.8), int(n * 0.1)
    part = [
        f"{nm} {0 if i < n_train else 1 if i < n_train + n_val else 2}"
        for i, nm in enumerate(names)
    ]
    (root / "list_eval_partition.txt").write_text("\n".join(part) + "\n")
    marker.write_text(str(n))
    return root


def engine_throughput(root: Path, args: argparse.Namespace, scope: str, epochs: int) -> dict:
    """The app's engine on ``root``: its best epoch's images/s after the first (warm-up)
    epoch, with the run's speed options (--amp-dtype, --compile, --batch-size auto)."""
    from gender_desktop.ml.config import AugmentConfig, ModelConfig, TrainConfig
    from gender_desktop.ml.trainer import Trainer

    augment = AugmentConfig(flip=scope != "head")
    config = TrainConfig(
        data=str(root),
        model=ModelConfig(args.backbone, "avg", (128,), 0.5, scope, args.input_size),
        augment=augment,
        weights="random",
        optimizer="sgd",
        lr=1e-3,
        batch_size=64 if args.batch_size == "auto" else int(args.batch_size),
        epochs=epochs,
        device=args.device,
        workers=args.workers,
        amp_dtype=args.amp_dtype,
        compile=args.compile,
        auto_batch_size=args.batch_size == "auto",
    )
    if args.batch_size == "auto":
        config.batch_size = 64
    t0 = time.perf_counter()
    summary = Trainer(config).run()
    wall = time.perf_counter() - t0
    rates = [row["images_per_second"] for row in summary["history"]]
    return {
        "images_per_second": max(rates[1:] or rates),  # after the first (warm-up) epoch
        "wall_seconds": round(wall, 2),
        "epochs": summary["epochs"],
        "device": summary["device"],
        "batch_size": int(config.batch_size),  # the probe's choice under --batch-size auto
    }


def reference_throughput(root: Path, args: argparse.Namespace, scope: str, batches: int) -> dict:
    """The tutorial loop: PIL + torchvision transforms per image per epoch, fp32."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, Dataset
    from torchvision import models, transforms

    device = torch.device("cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu")
    batch_size = 64 if args.batch_size == "auto" else int(args.batch_size)
    files = sorted((root / "img_align_celeba").glob("*.jpg"))
    rows = (root / "list_attr_celeba.txt").read_text().splitlines()[2:]
    labels = [1.0 if line.split()[1] == "1" else 0.0 for line in rows]

    class Faces(Dataset):
        def __init__(self) -> None:
            self.tf = transforms.Compose(
                [
                    transforms.Resize(args.input_size),
                    transforms.CenterCrop(args.input_size),
                    transforms.RandomHorizontalFlip(),
                    transforms.ToTensor(),
                    transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
                ]
            )

        def __len__(self) -> int:
            return len(files)

        def __getitem__(self, i: int):
            return self.tf(Image.open(files[i]).convert("RGB")), labels[i]

    net = getattr(models, args.backbone)(weights=None)
    if args.backbone.startswith("vgg"):
        trunk, width = net.features, 512
        blocks = [i for i, m in enumerate(trunk) if isinstance(m, nn.MaxPool2d)]
        last_start = blocks[-2] + 1
    elif args.backbone.startswith("resnet"):
        trunk = nn.Sequential(*list(net.children())[:-2])
        width, last_start = net.fc.in_features, len(trunk) - 1
    else:
        trunk, width, last_start = net.features, 1280, 14
    for i, layer in enumerate(trunk):
        trains = scope == "all" or (scope == "last_block" and i >= last_start)
        for p in layer.parameters():
            p.requires_grad_(trains)
    model = nn.Sequential(
        trunk,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 128),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, 1),
    ).to(device)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    loader = DataLoader(
        Faces(),
        batch_size=batch_size,
        shuffle=True,
        num_workers=args.workers or os.cpu_count() or 2,
        pin_memory=device.type == "cuda",
    )
    loss_fn = nn.BCEWithLogitsLoss()
    seen, t0 = 0, None
    for k, (x, y) in enumerate(loader):
        if k == 3:  # warm-up done
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0, seen = time.perf_counter(), 0
        x, y = x.to(device, non_blocking=True), y.float().to(device)
        loss = loss_fn(model(x).squeeze(1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(x)
        if k >= batches + 3:
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return {"images_per_second": seen / (time.perf_counter() - (t0 or time.perf_counter()))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "celeba-like")
    parser.add_argument("--backbone", default="vgg16")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batch-size", default="64", help="a number, or auto (the engine's probe)")
    parser.add_argument("--epochs", type=int, default=2, help="engine epochs per scope")
    parser.add_argument("--reference-batches", type=int, default=50)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--scopes", default="head,last_block,all")
    parser.add_argument("--amp-dtype", default="auto", choices=["auto", "bf16", "fp16"])
    parser.add_argument("--compile", action="store_true", help="the engine with torch.compile")
    parser.add_argument(
        "--head-epochs-images",
        type=int,
        default=0,
        help="images for the ten head-only epochs (default: --images); the target counts 24,000",
    )
    parser.add_argument("--json-out", type=Path, help="also write the JSON object to this file")
    args = parser.parse_args()
    os.environ.setdefault("GENDER_DESKTOP_HOME", tempfile.mkdtemp(prefix="gd-train-bench-"))
    root = build_dataset(args.root / str(args.images), args.images)

    import torch

    from gender_desktop.data.dataset import open_dataset
    from gender_desktop.ml.pipeline import DecodedImages

    t0 = time.perf_counter()
    DecodedImages.build(open_dataset(root), args.input_size, args.workers or None)
    decode_s = time.perf_counter() - t0
    result = {
        "images": args.images,
        "backbone": args.backbone,
        "input_size": args.input_size,
        "batch_size": args.batch_size,
        "amp_dtype": args.amp_dtype,
        "compile": args.compile,
        "one_time_decode_seconds": round(decode_s, 2),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "scopes": {},
    }
    for scope in args.scopes.split(","):
        engine = engine_throughput(root, args, scope, args.epochs)
        reference = reference_throughput(root, args, scope, args.reference_batches)
        result["scopes"][scope] = {
            "engine_images_per_second": round(engine["images_per_second"], 1),
            "reference_images_per_second": round(reference["images_per_second"], 1),
            "speedup": round(engine["images_per_second"] / reference["images_per_second"], 2),
            "engine_wall_seconds": engine["wall_seconds"],
            "engine_batch_size": engine["batch_size"],
            "device": engine["device"],
        }
    if "head" in args.scopes.split(","):
        head_root = root
        if args.head_epochs_images and args.head_epochs_images != args.images:
            head_root = build_dataset(
                args.root / str(args.head_epochs_images), args.head_epochs_images
            )
        DecodedImages.build(open_dataset(head_root), args.input_size, args.workers or None)
        t0 = time.perf_counter()
        head = engine_throughput(head_root, args, "head", 10)
        result["head_only_10_epochs_seconds"] = round(time.perf_counter() - t0, 2)
        result["head_only_train_images"] = int(0.8 * (args.head_epochs_images or args.images))
        result["head_only_images_per_second"] = round(head["images_per_second"], 1)
    print(json.dumps(result, indent=2))
    if args.json_out:
        from gender_desktop.fileio import atomic_write_json

        atomic_write_json(args.json_out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
