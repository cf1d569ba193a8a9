"""A wheel (and so `pip install .` and the PyInstaller bundle) must carry every subpackage:
pyproject lists them by hand because resources/ is mapped into the package."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
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


# -- the standalone app (build.spec, scripts/build_app.sh) -----------------------------------------
SERVICE = re.compile(r'"(gender_desktop\.[a-z_.]+):([A-Za-z_]+)"')


def test_every_service_the_children_load_by_name_exists() -> None:
    """Children import their service from a "module:Class" string (procs.load_service), which
    neither an IDE rename nor PyInstaller's import analysis follows: a stale name would only
    fail in a running app. build.spec ships every module (collect_submodules) for the same
    reason; this checks the names themselves."""
    found = {
        match
        for path in (ROOT / "gender_desktop").rglob("*.py")
        for match in SERVICE.findall(path.read_text())
    }
    assert ("gender_desktop.ml.service", "Engine") in found
    assert ("gender_desktop.ml.device", "DeviceService") in found
    for module, name in sorted(found):
        assert callable(getattr(importlib.import_module(module), name)), f"{module}:{name}"


def test_build_spec_ships_every_module_and_the_resources() -> None:
    spec = (ROOT / "build.spec").read_text()
    assert 'collect_submodules("gender_desktop")' in spec
    assert '(str(ROOT / "resources"), "gender_desktop/resources")' in spec
    assert "GENDER_DESKTOP_CPU_ONLY" in spec and "download.pytorch.org/whl/cpu" in spec
    # framing's face and eye cascades are data files of cv2, imported inside functions
    assert 'collect_data_files("cv2", includes=["data/*.xml"])' in spec


def test_the_build_script_installs_the_pinned_pyinstaller_and_runs_the_self_test() -> None:
    script = ROOT / "scripts" / "build_app.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)  # it parses
    text = script.read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pin = extras["optional-dependencies"]["build"][0]
    assert pin.startswith("pyinstaller")
    assert f'PYINSTALLER_PIN="{pin}"' in text
    assert '"$APP" --self-test' in text and "QT_QPA_PLATFORM=offscreen" in text
