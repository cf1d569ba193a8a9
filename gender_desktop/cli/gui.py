"""``gender-desktop`` without a command: the desktop app (the only CLI module that imports Qt,
and only once it runs)."""

from __future__ import annotations

import argparse

from gender_desktop.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo", action="store_true", help="open the built-in synthetic demo dataset"
    )
    parser.add_argument(
        "--open", metavar="PATH", help="open this dataset (folder, annotation file or .zip)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        from gender_desktop.ui.app import run_app
    except ImportError as exc:  # PySide6 or Qt's system libraries are missing
        raise UserError(
            f"the desktop app cannot start ({exc}); the commands (info, train, evaluate, "
            "predict, export) work without it: gender-desktop --help"
        ) from exc
    return run_app(open_path=args.open, demo=args.demo)
