"""benchmarks/gpu_check.sh's plumbing, run for real with no time left: every step is
recorded (skipped with the reason), and the JSON and Markdown report are written. The
benchmarks themselves are run by hand (--cpu-smoke, about 5 minutes here) and on a GPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_check_records_every_step_and_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = {**os.environ, "GPU_CHECK_BUDGET_S": "0", "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--cpu-smoke", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "gpu_check.json").read_text())
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["install"]["status"] == "ok"
    assert steps["core_imports"]["status"] == "skipped"
    assert "out of time (0 s of the 0 s budget left" in steps["core_imports"]["note"]
    expected = {"install", "nvidia_smi", "environment", "core_imports", "pytest_cuda"}
    assert expected <= set(steps)
    if not torch.cuda.is_available():
        assert steps["pytest_cuda"]["note"] == (
            "skipped: no CUDA (torch.cuda.is_available() is False)"
        )
        assert steps["train_throughput_compile"]["status"] == "skipped"
    assert report["smoke"] is True and report["results"]["train_throughput"] is None
    markdown = (out / "gpu_check.md").read_text()
    assert markdown.startswith("### GPU check: ")
    assert "| core_imports | skipped | 0 | skipped: out of time" in markdown
