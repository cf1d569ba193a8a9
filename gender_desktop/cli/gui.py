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
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check the whole app headless (demo, window, one epoch of training, evaluation, "
        "a prediction, a label export) in a temporary folder; exit 0 when all of it works",
    )


def window_check():
    """The self-test's window step, imported only when the self-test reaches it."""
    from gender_desktop.ui.selftest_window import check_window

    return check_window


def run(args: argparse.Namespace) -> int:
    if args.self_test:
        from gender_desktop.selftest import run_self_test

        return run_self_test(window_check)
    try:
        from gender_desktop.ui.app import run_app
    except ImportError as exc:  # PySide6 or Qt's system libraries are missing
        raise UserError(
            f"the desktop app cannot start ({exc}); the commands (info, train, evaluate, "
            "predict, export) work without it: gender-desktop --help"
        ) from exc
    return run_app(open_path=args.open, demo=args.demo)
