"""``gender-desktop export``: a run's model as verified TorchScript and/or ONNX files."""

from __future__ import annotations

import argparse
import json

FORMAT_CHOICES = {
    "torchscript": ("torchscript",),
    "onnx": ("onnx",),
    "both": ("torchscript", "onnx"),
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "export",
        help="export a run's model to TorchScript and/or ONNX (verified against the model)",
        description="Write a trained run's model as TorchScript and/or ONNX: float32 NCHW "
        "normalised images in (any batch size), logit and p_male out, with the preprocessing, "
        "class names and run details as JSON metadata inside. Each file is reloaded and "
        "compared with the model before it is kept.",
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="the run folder to export")
    p.add_argument(
        "--format",
        default="both",
        choices=list(FORMAT_CHOICES),
        help="which file(s) to write (default: both; onnx needs: pip install "
        "'gender-desktop[export]')",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default: RUN_DIR/export)")
    p.add_argument(
        "--checkpoint",
        choices=["best", "last"],
        help="which weights (default: best where it exists, else last)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """0 when every file was written and verified; a run folder that cannot give a model, an
    export that failed its check and an output folder that cannot be written are exit 2 with
    the reason (nothing partial is left in any case)."""
    from gender_desktop.ml.export import export_run

    results = export_run(
        args.run, formats=FORMAT_CHOICES[args.format], out_dir=args.out, which=args.checkpoint
    )
    if args.json:
        print(json.dumps({"run": args.run, "exports": [r.to_dict() for r in results]}, indent=2))
        return 0
    for r in results:
        print(f"{r.format}: {r.path} (verified: max logit difference {r.max_abs_diff:.2g})")
    return 0
