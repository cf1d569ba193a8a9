"""How many planted label errors the label-error finder puts at the top of its list.

The demo dataset flips about 2 % of its Male labels on purpose (``data/demo.py``); replaying its
random generator tells exactly which. This script trains a quick run on the demo (or uses
``--run``), evaluates it (val and test are out-of-sample), adds the k-fold scores of the train
split, and reports for the ranked list what share of the planted errors it finds in its top
10 / 20 / 50 and overall, with and without the train split's k-fold scores.

    python benchmarks/label_errors.py                       # resnet18 from scratch, CPU, ~1 min
    python benchmarks/label_errors.py --epochs 10 --input-size 96 --json

The numbers depend on how good the model is: a stronger model makes fewer honest mistakes, so
the planted errors stand out more. Record them, with the machine, in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def planted_errors(count: int, seed: int = 2026) -> set[str]:
    """The demo images whose label was flipped, by replaying the demo's generator."""
    import numpy as np

    from gender_desktop.data.demo import FLIP_RATE, draw_face

    rng = np.random.default_rng(seed)
    flipped = set()
    for i in range(count):
        male = bool(rng.random() < 0.45)
        draw_face(rng, male)  # consumes the same random numbers as the real build
        if rng.random() < FLIP_RATE:
            flipped.add(f"{i + 1:06d}.jpg")
    return flipped


def found_at(ranked: list[str], planted: set[str]) -> dict[str, int]:
    out = {f"top {k}": len(set(ranked[:k]) & planted) for k in (10, 20, 50)}
    out["all"] = len(set(ranked) & planted)
    out["listed"] = len(ranked)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="an existing run trained on the demo dataset")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("GENDER_DESKTOP_HOME", tempfile.mkdtemp(prefix="gd-label-bench-"))

    from gender_desktop.data.demo import DEFAULT_COUNT, ensure_demo
    from gender_desktop.ml.config import AugmentConfig, ModelConfig, TrainConfig
    from gender_desktop.ml.crossval import out_of_fold
    from gender_desktop.ml.evaluation import evaluate_run
    from gender_desktop.ml.results import label_error_candidates, load_evaluation
    from gender_desktop.ml.trainer import Trainer
    from gender_desktop.runs.folder import RunFolder

    demo = ensure_demo()
    started = time.perf_counter()
    if args.run:
        run = RunFolder(Path(args.run))
        evaluate_run(run.path)
    else:
        config = TrainConfig(
            data=str(demo),
            model=ModelConfig(backbone="resnet18", input_size=args.input_size, scope="all"),
            augment=AugmentConfig(flip=True),
            weights="random",
            optimizer="adam",
            lr=1e-3,
            epochs=args.epochs,
        )
        run = RunFolder.create("label-bench")
        Trainer(config, run).run()  # ends with the test evaluation
    trained = time.perf_counter() - started
    planted = planted_errors(DEFAULT_COUNT)
    saved = load_evaluation(run)
    assert saved is not None
    without = label_error_candidates(saved.predictions)["image_id"].tolist()
    t0 = time.perf_counter()
    summary = out_of_fold(run.path, folds=args.folds)
    kfold_seconds = time.perf_counter() - t0
    with_train = load_evaluation(run).suspects["image_id"].tolist()
    result = {
        "planted": len(planted),
        "planted_in_val_test": sum(1 for name in planted if int(name[:6]) > 960),
        "val_test_only": found_at(without, planted),
        "with_train_kfold": found_at(with_train, planted),
        "test_accuracy": saved.evaluation["metrics"]["accuracy"],
        "kfold_out_of_fold_accuracy": summary["accuracy"],
        "kfold_seconds": round(kfold_seconds, 2),
        "train_and_evaluate_seconds": round(trained, 1),
        "run": str(run.path),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"planted label errors: {result['planted']} ({result['planted_in_val_test']} in val/test)"
    )
    print(
        f"test accuracy {result['test_accuracy']:.3f} · k-fold accuracy {summary['accuracy']:.3f}"
    )
    for title, key in (
        ("val + test only", "val_test_only"),
        ("with train k-fold", "with_train_kfold"),
    ):
        r = result[key]
        print(
            f"{title:<18} listed {r['listed']:>4} · found in top 10: {r['top 10']:>2}, "
            f"top 20: {r['top 20']:>2}, top 50: {r['top 50']:>2}, all: {r['all']:>2}"
        )
    print(f"k-fold scoring took {kfold_seconds:.1f} s; training + evaluation {trained:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
