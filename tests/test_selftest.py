"""``gender-desktop --self-test`` as a user (or scripts/build_app.sh) runs it: a real subprocess
that trains, evaluates and predicts through the engine child and opens the real window
offscreen; and, with torch made unimportable, a clear failure of the step that needs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

STEPS = ("demo dataset", "window", "train", "evaluate", "predict", "export labels")


def self_test(env_changes: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_changes}
    env.pop("QT_QPA_PLATFORM", None)  # the self-test must choose offscreen by itself
    env.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "gender_desktop", "--self-test"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=240,
    )


def test_the_self_test_passes_every_step_and_leaves_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "user-home"  # the user's own app home: the self-test must not touch it
    temp = tmp_path / "temp"
    temp.mkdir()
    done = self_test({"GENDER_DESKTOP_HOME": str(home), "TMPDIR": str(temp)}, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("gender-desktop ") and "self-test (from source" in lines[0]
    for step, text in zip(STEPS, lines[1:7], strict=True):
        assert re.match(rf"  ok    {step}\s+\d", text), text
    assert "120 images shown on offscreen" in lines[2]
    assert "torch kept out of the window's process" in lines[2]
    assert re.search(r"val accuracy 0\.\d{3}", lines[3])
    assert re.search(r"12 test images: accuracy [01]\.\d{3}", lines[4])
    assert re.search(r"\.jpg: p\(Male\) [01]\.\d{3} \(label (Male|Female)\)", lines[5])
    assert re.match(r"self-test passed: 6 steps in ", lines[-1])
    assert "Traceback" not in done.stdout + done.stderr
    assert not home.exists()
    assert not list(temp.glob("gender-desktop-self-test-*"))  # its temporary home is gone too


def test_a_step_that_fails_is_named_with_its_reason(tmp_path: Path) -> None:
    """A bundle without a working torch (a broken install, the lite build): the window's
    device probe cannot load it, the self-test says so in one line and exits non-zero."""
    fake = tmp_path / "shadow" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ImportError('libtorch_cpu.so: cannot open shared object file')\n"
    )
    root = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(fake.parent), str(root)])
    (tmp_path / "temp").mkdir()
    changes = {
        "PYTHONPATH": path,
        "GENDER_DESKTOP_HOME": str(tmp_path / "h"),
        "TMPDIR": str(tmp_path / "temp"),
    }
    done = self_test(changes, tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"  ok    demo dataset ", out)
    assert re.search(r"  FAIL  window .*Device: unknown \(torch could not be loaded", out), out
    assert "  skipped: train, evaluate, predict, export labels" in out
    verdict = out.splitlines()[-2]
    assert verdict.startswith('self-test FAILED at step "window": Device: unknown'), out
    kept = Path(re.search(r"kept in (\S+)\)", out).group(1))
    assert kept.parent == tmp_path / "temp"
    assert (kept / "data" / "demo-v1" / "SYNTHETIC_DEMO").exists()
    assert "Traceback" not in out + done.stderr
