"""Every command fails the same way: an exit code by class and one line on stderr, never a
Python traceback (cli/guard.py).

The exit-code classes run the real launcher (``python -m gender_desktop``) in a subprocess and
read what a terminal would show. An internal error (a bug) cannot be provoked from outside
on purpose, so those tests replace one command's ``run`` in-process and call ``main``, or do
the same in a child process started with ``python -c``.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import builders
import pytest

from gender_desktop.cli import info, main

LOG_LINE = re.compile(
    r"gender-desktop info: internal error: RuntimeError: boom; details in (\S+\.log)"
)


def launch(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """The launcher as a user starts it (the app home comes from the test's environment)."""
    return subprocess.run(
        [sys.executable, "-m", "gender_desktop", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def in_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``code`` (which ends by calling the launcher's main) in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- exit 0 and 2, from outside --------------------------------------------------------------
def test_a_good_command_exits_0_without_noise(tmp_path: Path) -> None:
    builders.folder_per_class(tmp_path / "data", 10)
    done = launch("info", str(tmp_path / "data"), "--json")
    assert done.returncode == 0 and done.stderr == ""
    assert json.loads(done.stdout)["images"] == 10


def test_a_usage_error_exits_2_with_argparse_usage() -> None:
    done = launch("train", "--epochs", "many")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("usage: gender-desktop train")
    assert done.stderr.splitlines()[-1] == (
        "gender-desktop train: error: argument --epochs: invalid int value: 'many'"
    )


def broken_run_folder(tmp_path: Path, config: str | None) -> str:
    run = tmp_path / "run"
    run.mkdir()
    if config is not None:
        (run / "config.json").write_text(config)
    return str(run)


@pytest.mark.parametrize(
    "case, message",
    [
        ("no images", "gender-desktop train: error: "),
        ("resume: no config", "gender-desktop train: error: {run}: not a run folder (config.json"),
        ("resume: not JSON", "gender-desktop train: error: {run}/config.json: is not valid JSON"),
        (
            "resume: a list",
            "gender-desktop train: error: {run}/config.json: must hold a JSON object",
        ),
        ("resume: no settings", "gender-desktop train: error: {run}/config.json: has no settings"),
        ("resume: no folder", "gender-desktop train: error: {tmp}/gone: no such run folder"),
    ],
)
def test_bad_input_to_train_exits_2_with_one_line(tmp_path: Path, case: str, message: str) -> None:
    """Before: exit 1 for a dataset without images, a traceback for every --resume case."""
    runs = tmp_path / "runs"
    if case == "no images":
        (tmp_path / "empty").mkdir()
        args = ["--data", str(tmp_path / "empty"), "--runs-dir", str(runs)]
        run = ""
    else:
        config = {
            "resume: no config": None,
            "resume: not JSON": "{not json",
            "resume: a list": "[]",
            "resume: no settings": "{}",
        }
        run = broken_run_folder(tmp_path, config.get(case)) if case != "resume: no folder" else ""
        args = ["--resume", run or str(tmp_path / "gone")]
    done = launch("train", *args)
    assert done.returncode == 2
    assert one_line(done.stderr).startswith(message.format(run=run, tmp=tmp_path))
    assert done.stdout == ""


def test_an_unreadable_dataset_for_info_exits_2(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_bytes(b"image_id,Male\n\x00\x01\x02")
    done = launch("info", str(tmp_path / "labels.csv"))
    assert done.returncode == 2
    assert one_line(done.stderr).startswith(
        f"gender-desktop info: error: {tmp_path / 'labels.csv'}"
    )


# -- exit 130 ------------------------------------------------------------------------------------
CTRL_C_WHILE_READING = """
    import os, signal, sys
    import gender_desktop.data as data
    real = data.open_dataset
    def pressed(*args, **kwargs):  # Ctrl+C arrives while the dataset is being read
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)
    data.open_dataset = pressed
    from gender_desktop.cli import main
    sys.exit(main(["info", sys.argv[1]]))
"""


def test_ctrl_c_exits_130_with_a_short_line(tmp_path: Path) -> None:
    """Before: a KeyboardInterrupt traceback from ``info``."""
    builders.folder_per_class(tmp_path / "data", 10)
    done = in_child(CTRL_C_WHILE_READING, str(tmp_path / "data"))
    assert done.returncode == 130
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "stopping after the current step (Ctrl+C again: at once)",
        "gender-desktop info: cancelled",
    ]
    assert done.stdout == ""


def test_ctrl_c_stops_training_after_the_batch_and_says_how_to_resume(tmp_path: Path) -> None:
    data = builders.celeba_official(tmp_path / "colours", 80)
    command = [sys.executable, "-m", "gender_desktop", "train", "--data", str(data)]
    command += ["--runs-dir", str(tmp_path / "runs"), "--epochs", "50", "--backbone", "resnet18"]
    command += ["--input-size", "32", "--weights", "random", "--hidden", "8", "--workers", "1"]
    command += ["--batch-size", "8", "--device", "cpu", "--no-flip"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    first = child.stdout.readline()  # an epoch's log line: training is under way
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=300)
    assert first.strip() and child.returncode == 130
    assert "Traceback" not in err
    assert "stopped; continue with: gender-desktop train --resume " in out


# -- exit 1: an internal error -----------------------------------------------------------------
def test_an_internal_error_is_one_line_and_a_log_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], app_home: Path
) -> None:
    def boom(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(info, "run", boom)
    assert main(["info", "anything"]) == 1
    captured = capsys.readouterr()
    match = LOG_LINE.fullmatch(one_line(captured.err))
    assert match, captured.err
    log = Path(match.group(1))
    assert log.is_relative_to(app_home) and log.parent.name == "logs"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom" in text
    assert text.startswith("gender-desktop info\n")
    assert captured.out == ""


INTERNAL_ERROR_IN_CHILD = """
    import sys
    from gender_desktop import cli
    def boom(args):
        raise RuntimeError("boom")
    cli.info.run = boom
    sys.exit(cli.main(["info", "anything"]))
"""


def test_an_internal_error_in_a_real_process_shows_no_traceback() -> None:
    done = in_child(INTERNAL_ERROR_IN_CHILD)
    assert done.returncode == 1
    match = LOG_LINE.fullmatch(one_line(done.stderr))
    assert match and "RuntimeError: boom" in Path(match.group(1)).read_text()


def test_a_failing_background_thread_is_logged_not_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def with_a_thread(args: object) -> int:
        def fail() -> None:
            raise RuntimeError("boom")

        worker = threading.Thread(target=fail)
        worker.start()
        worker.join()
        return 0

    monkeypatch.setattr(info, "run", with_a_thread)
    assert main(["info", "anything"]) == 0
    line = one_line(capsys.readouterr().err)
    assert line.startswith("gender-desktop info: internal error: RuntimeError: boom; details in ")
    assert line.endswith(".log (in a background thread)")


def test_a_warning_is_one_line_without_source(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def warns(args: object) -> int:
        warnings.warn("the cache is old\nsecond line", UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(info, "run", warns)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["info", "anything"]) == 0
    assert one_line(capsys.readouterr().err) == "gender-desktop info: warning: the cache is old"
