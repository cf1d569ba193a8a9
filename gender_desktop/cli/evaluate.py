"""``gender-desktop evaluate``: a trained run's model on a dataset split, in a terminal.

It shares the engine with the app (``ml/evaluation.py``), so a number printed here is the number
the Evaluate panel shows. Torch is imported only once the command runs, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from gender_desktop.cli.guard import ctrl_c_sets
from gender_desktop.cli.options import DefaultsHelp, add_device
from gender_desktop.cli.output import ProgressLine
from gender_desktop.durations import duration_text
from gender_desktop.errors import Cancelled, UserError

WORST_SLICES = 5


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "evaluate",
        help="evaluate a run on a dataset split: metrics, per-class table, confusion, slices",
        description="Predict every image of a split with a run's best weights and print "
        "accuracy, precision, recall, F1 and AUC (Male is the positive class), the per-class "
        "table, the confusion matrix and the worst attribute slices. Writes predictions.csv and "
        "evaluation.json (always at the 0.5 threshold) into the run folder; the val and test "
        "images are predicted whichever split is evaluated, for the label-error finder. "
        "Exit status: 0 done, 2 error (run folder, dataset, empty split), 130 Ctrl+C.",
        formatter_class=DefaultsHelp,
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="the run folder to evaluate")
    p.add_argument(
        "--data",
        metavar="PATH",
        help="dataset folder, annotation file or .zip (default: the one the run trained on, "
        "with today's label edits)",
    )
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    add_device(p)
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="decision threshold for the printed metrics: an image is called Male when "
        "p_male >= threshold. Recomputed from predictions.csv; the files keep 0.5",
    )
    p.add_argument("--workers", type=int, default=0, help="decode processes (0: one per core)")
    p.add_argument(
        "--kfold",
        type=int,
        default=0,
        metavar="K",
        help="also score the train split out-of-fold with K fresh heads on the run's backbone "
        "features, so the suspected label errors cover the images the run trained on "
        "(writes crossval.csv; 0: off)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the evaluation as one JSON object (metrics and slices at --threshold)",
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the report (or JSON); Ctrl+C writes nothing and exits 130."""
    if not 0.0 <= args.threshold <= 1.0:
        raise UserError(f"--threshold must be between 0 and 1, not {args.threshold}")
    if args.kfold == 1 or args.kfold < 0:
        raise UserError(f"--kfold needs at least 2 folds (0 turns it off), not {args.kfold}")
    from gender_desktop.ml.evaluation import evaluate_run

    cancel = threading.Event()
    progress = ProgressLine()
    with ctrl_c_sets(cancel):
        try:
            evaluation = evaluate_run(
                args.run,
                args.data,
                args.split,
                args.device,
                workers=args.workers or None,
                progress=progress,
                cancel=cancel,
            )
        except Cancelled as exc:
            raise Cancelled("nothing was written") from exc
        if args.kfold:
            evaluation["crossval"] = kfold(args, progress, cancel)
    progress.clear()
    if args.threshold != 0.5:
        evaluation = at_threshold(evaluation, args.threshold)
    print(json.dumps(evaluation, indent=2) if args.json else format_evaluation(evaluation))
    if "crossval" in evaluation and not args.json:
        cv = evaluation["crossval"]
        print(
            f"train split ({cv['folds']}-fold): {cv['suspects']:,} of {cv['images']:,} images "
            f"predicted against their label · out-of-fold accuracy {cv['accuracy']:.4f} · "
            "crossval.csv; the Evaluate tab's suspected label errors now include them"
        )
    sys.stdout.flush()
    return 0


def kfold(args: argparse.Namespace, progress: ProgressLine, cancel: threading.Event) -> dict:
    """The out-of-fold scores of the train split (--kfold K), after the evaluation was written."""
    from gender_desktop.ml.crossval import out_of_fold

    try:
        return out_of_fold(
            args.run, args.data, args.kfold, device=args.device, progress=progress, cancel=cancel
        )
    except (Cancelled, KeyboardInterrupt) as exc:
        raise Cancelled("the evaluation was written, the k-fold scores were not") from exc


def at_threshold(evaluation: dict[str, Any], threshold: float) -> dict[str, Any]:
    """The evaluation with its metrics and slices recomputed at ``threshold`` from the run's
    predictions.csv (the ROC curve and AUC do not depend on a threshold)."""
    from gender_desktop.ml.evaluation import read_predictions, summarize
    from gender_desktop.runs.folder import RunFolder

    predictions = read_predictions(RunFolder(Path(evaluation["run"])))
    if predictions is None:  # evaluate_run always writes it; only a concurrent delete lands here
        raise UserError(f"{evaluation['run']}: predictions.csv is missing")
    again = summarize(predictions, evaluation["split"], threshold)
    return {
        **evaluation,
        "threshold": threshold,
        "metrics": again["metrics"],
        "slices": again["slices"],
    }


def edits_line(edits: Any) -> str:
    """ "3 label edits from <store> applied" or "no label edits": whether the numbers below
    are on the dataset's own labels or on the ones edited in the app."""
    if not isinstance(edits, dict):
        return "as in the dataset (this evaluation did not record label edits)"
    count = int(edits.get("count") or 0)
    if not count:
        return "no label edits (the dataset's own labels)"
    plural = "s" if count != 1 else ""
    return f"{count:,} label edit{plural} from {edits.get('store') or 'the label store'} applied"


def format_evaluation(evaluation: dict[str, Any], worst: int = WORST_SLICES) -> str:
    """The report people read: headline metrics, per-class table, the confusion matrix as a
    2x2 table (rows: true label), the worst slices with enough images to mean something, and
    where the files are."""
    from gender_desktop.ml.metrics import MIN_SLICE
    from gender_desktop.ml.slice_names import slice_title
    from gender_desktop.runs.folder import EVALUATION, PREDICTIONS

    m = evaluation["metrics"]
    dataset = evaluation["dataset"]
    auc = evaluation["roc"]["auc"]
    run = Path(evaluation["run"]) if evaluation.get("run") else None
    weights = evaluation.get("checkpoint") or "weights"
    if evaluation.get("epoch") is not None:
        weights += f", epoch {evaluation['epoch']}"
    origin = (
        "the dataset the run trained on"
        if evaluation.get("same_dataset_as_training")
        else "not the dataset the run trained on"
    )
    skipped = evaluation.get("skipped_images") or 0
    lines = []
    if run is not None:
        lines.append(f"run:        {run} ({weights})")
    lines += [
        f"data:       {dataset['source']} ({dataset['layout']}), {origin}",
        f"labels:     {edits_line(evaluation.get('label_edits'))}",
        f"split:      {evaluation['split']}: {m['n']:,} images"
        + (f" ({skipped:,} unreadable, left out)" if skipped else "")
        + f" · threshold {evaluation['threshold']:.2f} · {evaluation['device']}"
        + f" · {duration_text(evaluation['evaluate_seconds'])}",
        "",
        f"accuracy   {m['accuracy']:.4f}   precision {m['precision']:.4f}   "
        f"recall {m['recall']:.4f}   F1 {m['f1']:.4f}   "
        f"AUC {'n/a (one class only)' if auc is None else f'{auc:.4f}'}",
        f"balanced accuracy {m['balanced_accuracy']:.4f} (Male is the positive class)",
        "",
        f"{'':<8}{'precision':>10}{'recall':>9}{'F1':>9}{'support':>10}",
    ]
    for name in ("Male", "Female"):
        c = m["per_class"][name]
        lines.append(
            f"{name:<8}{c['precision']:>10.4f}{c['recall']:>9.4f}{c['f1']:>9.4f}{c['support']:>10,}"
        )
    c = m["confusion"]
    lines += [
        "",
        f"{'':<14}{'predicted Male':>16}{'predicted Female':>18}",
        f"{'true Male':<14}{c['tp']:>16,}{c['fn']:>18,}",
        f"{'true Female':<14}{c['fp']:>16,}{c['tn']:>18,}",
        "",
    ]
    ranked = [s for s in evaluation["slices"] if s["n"] >= MIN_SLICE][:worst]
    if ranked:
        names = [slice_title(s["slice"]) for s in ranked]  # as the Evaluate tab names them
        width = max(24, *(len(name) for name in names))
        lines.append(f"worst slices (at least {MIN_SLICE} images), by accuracy:")
        lines.append(f"  {'slice':<{width}}{'n':>8}{'accuracy':>10}{'male share':>12}{'errors':>8}")
        for name, s in zip(names, ranked, strict=True):
            lines.append(
                f"  {name:<{width}}{s['n']:>8,}{s['accuracy']:>10.4f}"
                f"{s['male_share']:>12.3f}{s['errors']:>8,}"
            )
    else:
        lines.append(f"worst slices: none with at least {MIN_SLICE} images")
    if run is not None:
        lines += ["", f"written:    {run / PREDICTIONS}", f"            {run / EVALUATION}"]
        if evaluation["threshold"] != 0.5:
            lines.append(
                f"            (the files hold the 0.5 threshold; the numbers above are at "
                f"{evaluation['threshold']:.2f})"
            )
    return "\n".join(lines)
