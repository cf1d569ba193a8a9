"""Two tiny runs the trainer really made (different learning rates, same data), for the
report tests; read-only: a test that changes a run works on a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import builders
import pytest
from setups import tiny_config, train_in_own_home


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("report-runs")
    data = builders.celeba_official(root / "colours", 80)
    runs = []
    for name, lr in (("slow", 1e-3), ("fast", 1e-2)):
        run, _summary = train_in_own_home(root, tiny_config(data, lr=lr, epochs=2), name)
        runs.append(run.path)
    return runs


@pytest.fixture
def run_copies(two_runs: list[Path], tmp_path: Path) -> list[Path]:
    """The two runs copied into ``tmp_path/runs``, free to rename or tag."""
    out = []
    for path in two_runs:
        target = tmp_path / "runs" / path.name
        shutil.copytree(path, target)
        out.append(target)
    return out
