"""Options several commands share, spelled once."""

from __future__ import annotations

import argparse

DEVICES = ["auto", "cpu", "cuda", "mps"]


def add_device(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument(
        "--device",
        default="auto",
        choices=DEVICES,
        help="auto picks CUDA, then Apple MPS, then CPU",
    )


class DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default after its help, except where the help already says it (a
    backbone-dependent default) or there is none to show ("(default: None)" helps no one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or action.default in (None, "", False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action) or text
