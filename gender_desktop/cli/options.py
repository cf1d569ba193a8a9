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
