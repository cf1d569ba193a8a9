"""A wheel (and so `pip install .` and the PyInstaller bundle) must carry every subpackage:
pyproject lists them by hand because resources/ is mapped into the package."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "gender_desktop").rglob("__init__.py")
    }
    assert on_disk - listed == set()
    assert "gender_desktop.resources" in listed
