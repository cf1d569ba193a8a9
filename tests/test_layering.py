"""The core never imports Qt: the CLI and later training run without a display."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gender_desktop"
QT_MODULES = ("PySide6", "shiboken6", "pyqtgraph", "gender_desktop.ui")
# The launchers may start the GUI (lazily, inside main), and `report` draws an HTML report's
# figures with the app's plots (lazily, offscreen, only for .html); everything else outside
# ui/ is core.
LAUNCHERS = {"cli/gui.py", "__main__.py", "cli/report.py"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_core_module_imports_qt() -> None:
    core = [
        p
        for p in PACKAGE.rglob("*.py")
        if "ui" not in p.relative_to(PACKAGE).parts
        and p.relative_to(PACKAGE).as_posix() not in LAUNCHERS
    ]
    assert len(core) > 10
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(
            m for m in imported_modules(p) if m.startswith(QT_MODULES)
        )
        for p in core
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_core_loads_no_qt() -> None:
    code = (
        "import sys, gender_desktop.data, gender_desktop.data.labels, gender_desktop.data.demo, "
        "gender_desktop.data.filters, gender_desktop.cli; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_device_probe_names_a_device_without_importing_torch_here() -> None:
    from gender_desktop.ml.device import probe_device

    before = "torch" in sys.modules
    text = probe_device()
    assert text.startswith(("CPU (", "CUDA · ", "Apple MPS"))
    assert ("torch" in sys.modules) == before


def test_the_gui_starts_without_importing_torch() -> None:
    """torch takes seconds to import and holds the GIL meanwhile: only training pays for it."""
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'; "
        "import gender_desktop.ui.main_window; "
        "assert 'torch' not in sys.modules, 'the GUI imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
