"""The training options, defined once: ``gender-desktop train`` and ``sweep`` (its base
settings) both take them, and :func:`config_from_args` turns them into the same
:class:`~gender_desktop.ml.config.TrainConfig`. Defaults come from the settings dataclasses
themselves and backbone facts from the backbone table, so the form, the CLI and the engine agree.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gender_desktop.cli.options import DEVICES
from gender_desktop.errors import UserError
from gender_desktop.ml import backbones
from gender_desktop.ml.config import (
    AMP_DTYPES,
    BEST_METRICS,
    FIT_ON,
    OPTIMIZERS,
    POOLINGS,
    SCHEDULES,
    AugmentConfig,
    ModelConfig,
    TrainConfig,
)

_D = TrainConfig(data="")  # the engine's own defaults: the CLI and the form show the same
DEFAULTS = {
    **{k: v for k, v in _D.to_dict().items() if not isinstance(v, dict)},
    **{k: v for k, v in _D.model.__dict__.items() if k != "hidden"},
    "hidden": ",".join(str(h) for h in _D.model.hidden),
}


def add_training_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Every setting of a training run, in groups (model, optimisation, augmentation,
    running); returns the running group, where a command adds its own options."""
    m = parser.add_argument_group("model")
    m.add_argument(
        "--backbone",
        default=DEFAULTS["backbone"],
        choices=backbones.NAMES,
        help="the network under the head (resnet18 and mobilenet_v2 suit CPUs; levi_hassner "
        "is Levi & Hassner's small CNN, random weights only)",
    )
    m.add_argument(
        "--scope",
        help="what trains: head, last_block, all, or from:<block> (e.g. from:block4) "
        f"(default: {DEFAULTS['scope']}; all for a backbone without ImageNet weights)",
    )
    m.add_argument(
        "--pooling",
        default=DEFAULTS["pooling"],
        choices=POOLINGS,
        help="how the last feature map becomes a vector: average, max, or flattened",
    )
    m.add_argument(
        "--hidden",
        default=DEFAULTS["hidden"],
        help="hidden layer sizes of the head, comma-separated ('' for none)",
    )
    m.add_argument(
        "--dropout",
        type=float,
        default=DEFAULTS["dropout"],
        help="dropout after each hidden layer of the head",
    )
    m.add_argument(
        "--input-size",
        type=int,
        help=f"pixels (default: the backbone's own, {DEFAULTS['input_size']} for most, 227 "
        "for levi_hassner)",
    )
    m.add_argument(
        "--weights",
        help="imagenet, random, file:<path.pth> or run:<run folder> "
        f"(default: {DEFAULTS['weights']}; random for a backbone without ImageNet weights)",
    )
    o = parser.add_argument_group("optimisation")
    o.add_argument(
        "--optimizer",
        default=DEFAULTS["optimizer"],
        choices=OPTIMIZERS,
        help="SGD with momentum, Adam or AdamW",
    )
    o.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="learning rate")
    o.add_argument("--momentum", type=float, default=DEFAULTS["momentum"], help="SGD momentum")
    o.add_argument(
        "--weight-decay",
        type=float,
        default=DEFAULTS["weight_decay"],
        help="L2 penalty on the trained weights",
    )
    o.add_argument(
        "--batch-size",
        type=batch_size_value,
        default=DEFAULTS["batch_size"],
        help="images per training step, or auto: the largest that fits in the GPU's memory "
        "(probed with real steps; config.json records the size chosen)",
    )
    o.add_argument(
        "--epochs", type=int, default=DEFAULTS["epochs"], help="passes over the train split"
    )
    o.add_argument(
        "--schedule",
        default=DEFAULTS["schedule"],
        choices=SCHEDULES,
        help="learning-rate schedule: none, step (every --step-size epochs), cosine, or reduce on val-loss plateau",
    )
    o.add_argument("--step-size", type=int, default=DEFAULTS["step_size"], help="epochs per step")
    o.add_argument(
        "--gamma", type=float, default=DEFAULTS["gamma"], help="lr factor (step, plateau)"
    )
    o.add_argument(
        "--patience",
        type=int,
        default=DEFAULTS["patience"],
        help="early stopping after this many epochs without a better --best-metric (0: off)",
    )
    o.add_argument(
        "--best-metric",
        default=DEFAULTS["best_metric"],
        choices=BEST_METRICS,
        help="which epoch best.pt keeps (and early stopping watches): the lowest val loss or "
        "the highest val accuracy",
    )
    o.add_argument(
        "--fit-on",
        default=DEFAULTS["fit_on"],
        choices=FIT_ON,
        help="train+val: also train on the val split (a final model; the last epoch is kept)",
    )
    o.add_argument(
        "--seed",
        type=int,
        default=DEFAULTS["seed"],
        help="makes a run reproducible on the same device",
    )
    a = parser.add_argument_group("augmentation (train split only)")
    a.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    aug = _D.augment
    a.add_argument("--rotation", type=float, default=aug.rotation, help="max rotation, degrees")
    a.add_argument("--zoom", type=float, default=aug.zoom, help="max zoom in/out as a fraction")
    a.add_argument(
        "--brightness", type=float, default=aug.brightness, help="max brightness change, fraction"
    )
    r = parser.add_argument_group("running")
    r.add_argument(
        "--device",
        default=DEFAULTS["device"],
        choices=DEVICES,
        help="auto picks CUDA, then Apple MPS, then CPU",
    )
    r.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    r.add_argument(
        "--amp-dtype",
        default=DEFAULTS["amp_dtype"],
        choices=AMP_DTYPES,
        help="mixed precision's dtype: auto (bf16 where the GPU has it, else fp16 with a grad "
        "scaler; fp32 on CPU), or bf16 / fp16 forced (CPU autocast too)",
    )
    r.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the model first (the first steps pay for the compilation)",
    )
    r.add_argument(
        "--workers", type=int, default=_D.workers, help="decode processes (0: one per core)"
    )
    r.add_argument(
        "--no-feature-cache",
        action="store_true",
        help="head only: run the frozen backbone every epoch instead of once",
    )
    r.add_argument(
        "--sync-bn",
        action="store_true",
        help="with --ddp on CUDA: BatchNorm statistics over the whole global batch",
    )
    t = r.add_mutually_exclusive_group()
    t.add_argument(
        "--track",
        metavar="NAMES",
        help="experiment trackers, comma-separated: tensorboard (event files in the run "
        "folder), wandb, mlflow (default: tensorboard when it is installed)",
    )
    t.add_argument("--no-track", action="store_true", help="no tracker, not even TensorBoard")
    return r


def batch_size_value(text: str) -> int | str:
    """--batch-size: a whole number, or "auto" (the largest batch that fits)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number or auto, not {text!r}") from None


def tracker_names(args: argparse.Namespace) -> list[str] | None:
    """The trackers --track / --no-track ask for (None: the default, TensorBoard if installed)."""
    from gender_desktop.ml.trackers import parse_names

    if args.no_track:
        return []
    return parse_names(args.track) if args.track is not None else None


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
    entry = backbones.get(args.backbone)  # its own defaults for what was not given
    weights = args.weights or entry.default_weights
    scope = args.scope or entry.default_scope
    input_size = args.input_size or entry.default_input_size
    for prefix in ("file:", "run:"):  # saved resolved, so --resume works from anywhere
        if weights.startswith(prefix):
            given = weights.removeprefix(prefix)
            try:
                weights = prefix + str(Path(given).expanduser().resolve())
            except (RuntimeError, OSError) as exc:  # a symbolic link loop
                raise UserError(f"--weights: cannot follow this path ({exc})", given) from exc
    return TrainConfig(
        data=str(Path(args.data).expanduser().resolve()),
        model=ModelConfig(args.backbone, args.pooling, hidden, args.dropout, scope, input_size),
        augment=AugmentConfig(not args.no_flip, args.rotation, args.zoom, args.brightness),
        weights=weights,
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        batch_size=DEFAULTS["batch_size"] if args.batch_size == "auto" else args.batch_size,
        auto_batch_size=args.batch_size == "auto",
        epochs=args.epochs,
        schedule=args.schedule,
        step_size=args.step_size,
        gamma=args.gamma,
        patience=args.patience,
        best_metric=args.best_metric,
        fit_on=args.fit_on,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        amp_dtype=args.amp_dtype,
        compile=args.compile,
        workers=args.workers,
        feature_cache=not args.no_feature_cache,
        sync_bn=args.sync_bn,
    )


def checked_config(args: argparse.Namespace) -> TrainConfig:
    """The options' settings, validated, for a dataset that exists: refused (a UserError,
    exit 2) before anything is written."""
    try:
        config = config_from_args(args)
        config.validate()
    except ValueError as exc:  # an option out of range, or --hidden not a list of numbers
        raise UserError(str(exc)) from exc
    if not Path(args.data).expanduser().exists():  # before a run folder is made for it
        raise UserError(f"{args.data}: no such file or folder")
    return config
