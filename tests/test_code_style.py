"""Lint and format are part of the suite, so the README's one test command checks them too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff(args: list[str]) -> None:
    ruff = shutil.which("ruff") or pytest.skip("ruff is not installed (pip install -e '.[test]')")
    done = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_data_ships_the_resources() -> None:
    """Icons and the stylesheet resolve through the package, as in a wheel or a bundle."""
    from importlib import resources

    files = resources.files("gender_desktop.resources")
    assert files.joinpath("style.qss").is_file()
    assert files.joinpath("icons/app.svg").is_file()
    assert sys.modules["gender_desktop.resources"].__file__
