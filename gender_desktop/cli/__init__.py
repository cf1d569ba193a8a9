"""The ``gender-desktop`` launcher: with no command it opens the app; ``info``, ``train``,
``sweep``, ``cv``, ``evaluate``, ``predict``, ``export``, ``runs``, ``compare`` and ``report``
run headless on the same core.

One module per command (``add_parser`` and ``run``), ``output`` for what goes to the terminal
besides results, and ``guard`` for the one place where failures become exit codes: 0 done,
1 internal error (logged), 2 bad input or usage, 130 cancelled. The GUI is imported only when
needed, so the CLI works on machines without a display or Qt's system libraries, and torch
only once a command that needs it runs, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from types import ModuleType

from gender_desktop import __version__
from gender_desktop.cli import (
    compare,
    cv,
    evaluate,
    export,
    gui,
    info,
    predict,
    report,
    runs,
    sweep,
    train,
)
from gender_desktop.cli.guard import run_guarded
from gender_desktop.cli.output import prepare_streams

# In the order of --help; each module has add_parser(commands) and run(args) -> exit code.
COMMANDS: dict[str, ModuleType] = {
    "info": info,
    "train": train,
    "sweep": sweep,
    "cv": cv,
    "export": export,
    "evaluate": evaluate,
    "predict": predict,
    "runs": runs,
    "compare": compare,
    "report": report,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gender-desktop",
        description="Browse, relabel, train and audit face gender classifiers. "
        "Without a command, opens the desktop app.",
        epilog="Exit status: 0 done, 1 internal error (details in the log file it names), "
        "2 bad input or usage, 130 cancelled (Ctrl+C).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    gui.add_arguments(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    prepare_streams()
    args = build_parser().parse_args(argv)  # a usage error exits 2 here, as argparse does
    command = args.command or ""
    module = COMMANDS.get(command, gui)
    # Looked up at call time, so a test can replace a command's run with one that fails.
    return run_guarded(command, lambda parsed: module.run(parsed), args)
