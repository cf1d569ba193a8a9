"""``gender-desktop runs``: every run of the workspace in a table (what the Experiments tab shows).

Reads only the runs' small files (:mod:`gender_desktop.runs.index`), so it is instant even with
hundreds of runs and never imports torch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gender_desktop.cli.table import format_table, percent, seconds
from gender_desktop.errors import UserError

HEADER = (
    "Run", "Created", "Backbone", "Scope", "LR", "Batch", "Epochs", "Best val", "Test acc",
    "95% CI", "F1", "Time", "Status", "Sweep",
)  # fmt: skip
NUMERIC = {4, 5, 6, 7, 8, 10, 11}


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "runs",
        help="list every run of the workspace: settings, best validation and test numbers, status",
        description="List the run folders of the workspace, newest first: backbone, scope, "
        "learning rate, batch size, epochs done/planned, the best epoch's validation accuracy "
        "(lowest validation loss, the weights best.pt holds), the test accuracy with its 95% "
        "Wilson interval and F1 (when the run was evaluated on its dataset's test split), "
        "training time, status and sweep. Damaged runs are listed with what is wrong.",
    )
    p.add_argument("--runs-dir", type=Path, help="the runs folder (default: app data)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per run")


def run(args: argparse.Namespace) -> int:
    from gender_desktop.runs.index import list_records

    root = args.runs_dir
    if root is not None and not root.is_dir():
        raise UserError("no such runs folder", file=root)
    records = list_records(root)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2, default=str))
        return 0
    if not records:
        print(f"no runs in {root or 'the workspace'}")
        return 0
    rows = []
    for r in records:
        ci = f"{percent(r.test_ci[0])}-{percent(r.test_ci[1])}" if r.test_ci else ""
        rows.append(
            [
                r.title, r.created[:16], r.backbone, r.scope,
                "" if r.lr is None else f"{r.lr:g}", "" if r.batch_size is None else str(r.batch_size),
                r.epochs_text, percent(r.best_val_accuracy), percent(r.test_accuracy), ci,
                percent(r.test_f1), seconds(r.train_seconds), r.status, r.sweep_name,
            ]
        )  # fmt: skip
    print(format_table(HEADER, rows, NUMERIC))
    for r in records:
        if r.problem:
            print(f"{r.title}: {r.problem}")
    return 0
