"""``gender-desktop runs`` and ``compare`` in a terminal and as JSON, in a real child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from runfiles import write_run

A_RIGHT = [True] * 90 + [False] * 10
B_RIGHT = [True] * 80 + [False] * 10 + [True] * 2 + [False] * 8


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gender_desktop", *args], capture_output=True, text=True, timeout=120
    )


def test_runs_and_compare(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-100000-fast", lr=1e-3, correct=A_RIGHT)
    write_run(
        tmp_path,
        "20260102-100000-slow",
        lr=1e-4,
        correct=B_RIGHT,
        epochs=2,
        planned=4,
        status="stopped",
    )
    done = cli("runs", "--runs-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["Run", "Created", "Backbone", "Scope"]
    assert "20260102-100000-slow" in lines[2] and "2/4" in lines[2] and "stopped" in lines[2]
    assert "90.0%" in lines[3] and "82.6%-94.5%" in lines[3]  # Wilson interval of 90/100
    listed = json.loads(cli("runs", "--json", "--runs-dir", str(tmp_path)).stdout)
    assert [r["name"] for r in listed] == ["20260102-100000-slow", "20260101-100000-fast"]
    assert listed[1]["test_ci"] == [json_approx(0.8256), json_approx(0.9448)]

    done = cli(
        "compare", str(tmp_path / "20260101-100000-fast"), str(tmp_path / "20260102-100000-slow")
    )
    assert done.returncode == 0, done.stderr
    assert "Settings that differ:" in done.stdout and "epochs" in done.stdout
    assert "20260101-100000-fast is better than 20260102-100000-slow by 8.0 points" in done.stdout
    as_json = json.loads(
        cli("compare", "--json", *(str(p) for p in sorted(tmp_path.iterdir()))).stdout
    )
    assert as_json["table"][0]["Accuracy"] == 0.9


def test_errors_name_the_folder(tmp_path: Path) -> None:
    done = cli("compare", str(tmp_path))
    assert done.returncode == 2 and f"{tmp_path}: not a run folder" in done.stderr
    done = cli("runs", "--runs-dir", str(tmp_path / "missing"))
    assert done.returncode == 2 and "no such runs folder" in done.stderr


class json_approx(float):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and abs(other - self) < 1e-4

    __hash__ = float.__hash__
