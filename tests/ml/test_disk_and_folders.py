"""Writing a run: a full disk says what is full and keeps the previous epoch whole, a read-only
runs folder is refused before the work begins, a failed or refused run leaves no folder, and
temp files that a killed write left are removed when the run is opened again.

A full disk is a real one: the temp file the write goes to is swapped for ``/dev/full``, whose
writes fail with ENOSPC in the kernel (no root, no loop mount)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import builders
import pytest
import torch
from setups import tiny_config, train_in_own_home

from gender_desktop import fileio
from gender_desktop.errors import UserError
from gender_desktop.ml import export, pipeline
from gender_desktop.ml.config import ModelConfig
from gender_desktop.ml.events import EpochEnd, PhaseProgress
from gender_desktop.ml.export import ExportFailed, export_run
from gender_desktop.ml.trainer import Trainer, TrainingFailed
from gender_desktop.runs.folder import BEST, LAST, RunFolder

pytestmark = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("disk")
    data = builders.celeba_official(root / "colours", 80)
    run, _summary = train_in_own_home(root, tiny_config(data, epochs=1))
    return run.path


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be created in: read-only permissions, or for root (whom
    permissions do not stop) a path under /sys, where the kernel refuses new folders."""
    if os.geteuid() == 0:
        yield Path("/sys/gender-desktop-test-read-only")
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def fill_disk_for(monkeypatch: pytest.MonkeyPatch, full: Callable[[Path], bool]) -> list[Path]:
    """From now on, writes of files for which ``full(target)`` holds fail as on a full disk.
    Returns the targets that failed."""
    real = fileio.make_temp
    failed: list[Path] = []

    def make_temp(target: Path) -> tuple[int, Path]:
        fd, tmp = real(target)
        if not full(target):
            return fd, tmp
        failed.append(target)
        os.close(fd)
        tmp.unlink()
        tmp.symlink_to("/dev/full")  # opened by path or by this fd: writes fail with ENOSPC
        return os.open("/dev/full", os.O_WRONLY), tmp

    monkeypatch.setattr(fileio, "make_temp", make_temp)
    monkeypatch.setattr(export, "make_temp", make_temp)
    return failed


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".partial")))


def test_a_full_disk_in_epoch_2_keeps_epoch_1_and_says_so(colour_data, tmp_path, monkeypatch):
    run = RunFolder.create("full", tmp_path / "runs")
    config = tiny_config(colour_data, epochs=3)

    def epoch_1_done(event) -> None:
        if isinstance(event, EpochEnd) and event.metrics["epoch"] == 1:
            fill_disk_for(monkeypatch, lambda target: target.name in (LAST, BEST))

    with pytest.raises(TrainingFailed) as caught:
        Trainer(config, run, callback=epoch_1_done).run()
    message = str(caught.value)
    assert message.startswith(f"the disk is full: could not write {run.path}/")
    assert "keeps the last complete epoch" in message and f"--resume {run.path}" in message
    assert torch.load(run.path / LAST, weights_only=True)["epoch"] == 1  # whole, loadable
    assert leftovers(tmp_path) == []
    monkeypatch.undo()  # space again: the run resumes and finishes
    summary = Trainer(config, run).run(resume=True)
    assert summary["epochs"] == 3 and not summary["stopped"]


def test_a_full_disk_before_any_epoch_leaves_no_folder(colour_data, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    fill_disk_for(monkeypatch, lambda target: runs in target.parents)  # the runs' disk
    with pytest.raises(TrainingFailed, match=r"^the disk is full: could not write .*config\.json"):
        Trainer(tiny_config(colour_data), RunFolder.create("full", runs)).run()
    assert list(runs.iterdir()) == []


def test_the_decode_cache_gives_real_numbers_when_space_is_short(colour_data, monkeypatch):
    usage = pipeline.shutil.disk_usage

    def nearly_full(path):
        return usage(path)._replace(free=3_200_000)

    monkeypatch.setattr(pipeline.shutil, "disk_usage", nearly_full)
    # 80 images at 224 px need 12.0 MB: not "0.0 GB, only 0.0 GB free"
    config = tiny_config(colour_data, model=ModelConfig("resnet18", input_size=224, hidden=(16,)))
    with pytest.raises(TrainingFailed) as caught:
        Trainer(config).run()
    assert "decoding 80 images at 224 px needs 12.0 MB in" in str(caught.value)
    assert "but only 3.2 MB is free" in str(caught.value)


def test_a_torchscript_export_on_a_full_disk_fails_cleanly(trained_run, tmp_path, monkeypatch):
    """torch's own writer aborted the interpreter (exit 134); now Python writes the bytes."""
    out = tmp_path / "export"
    failed = fill_disk_for(monkeypatch, lambda target: True)
    with pytest.raises(ExportFailed) as caught:
        export_run(trained_run, ["torchscript"], out)
    target = failed[0]
    assert (
        str(caught.value)
        == f"the disk is full: could not write {target}; free some space and try again; nothing was written"
    )
    assert list(out.iterdir()) == []


def test_an_export_into_a_read_only_folder_is_refused(trained_run, unwritable: Path) -> None:
    with pytest.raises(ExportFailed, match=r"^permission denied: could not write "):
        export_run(trained_run, ["torchscript"], unwritable / "export")


def test_a_read_only_runs_folder_is_refused_before_decoding(colour_data, unwritable) -> None:
    events: list = []
    with pytest.raises(TrainingFailed) as caught:
        Trainer(tiny_config(colour_data), RunFolder.create("ro", unwritable), events.append).run()
    assert "could not write a run folder in" in str(caught.value)
    assert "--runs-dir" in str(caught.value)
    assert not [e for e in events if isinstance(e, PhaseProgress)]  # nothing was decoded


@pytest.mark.parametrize(
    "case",
    ["no dataset there", "loss becomes NaN in epoch 1", "starting weights missing"],
)
def test_a_failed_run_leaves_no_folder(colour_data, tmp_path, case) -> None:
    runs = tmp_path / "runs"
    config = {
        "no dataset there": tiny_config(tmp_path / "empty-folder"),
        "loss becomes NaN in epoch 1": tiny_config(colour_data, optimizer="sgd", lr=1e12),
        "starting weights missing": tiny_config(colour_data, weights=f"run:{tmp_path}/gone"),
    }[case]
    (tmp_path / "empty-folder").mkdir()
    run = RunFolder.create("fails", runs)
    with pytest.raises(UserError):
        Trainer(config, run).run()
    assert not runs.exists() or list(runs.iterdir()) == []


def test_a_stop_while_preparing_leaves_no_folder(colour_data, tmp_path) -> None:
    from gender_desktop.ml.events import Control

    control = Control()
    control.stop.set()
    runs = tmp_path / "runs"
    summary = Trainer(
        tiny_config(colour_data), RunFolder.create("stopped", runs), control=control
    ).run()
    assert summary["stopped"] and summary["run_dir"] is None
    assert not runs.exists() or list(runs.iterdir()) == []


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_train_cli_refusals_print_no_traceback_and_leave_no_folder(colour_data, tmp_path) -> None:
    """Through the real command (its exit codes are the CLI's concern)."""
    from gender_desktop.ml.weights import sha256_of

    (tmp_path / "not-a-dataset").mkdir()
    broken = tmp_path / "broken-run"
    broken.mkdir()
    (broken / BEST).write_bytes(b"PK\x03\x04 cut short")
    evil = tmp_path / "evil.pth"
    torch.save({"conv1.weight": Evil()}, evil)
    evil = evil.rename(tmp_path / f"resnet18-{sha256_of(evil)[:8]}.pth")  # its hash checks out
    runs = tmp_path / "runs"
    env = {**os.environ, "GENDER_DESKTOP_HOME": str(tmp_path / "home")}
    base = [sys.executable, "-m", "gender_desktop", "train", "--runs-dir", str(runs)]
    tiny = ["--backbone", "resnet18", "--input-size", "32", "--hidden", "16", "--workers", "1"]
    data = ["--data", str(colour_data)]
    for args, expected in (
        (["--data", str(tmp_path / "not-a-dataset"), "--weights", "random"], "not-a-dataset"),
        ([*data, "--weights", f"run:{broken}"], f"{broken / BEST}: damaged or incomplete"),
        (
            [*data, "--weights", f"file:{evil}"],
            f"{evil}: not a gender-desktop checkpoint, or unsafe",
        ),
    ):
        done = subprocess.run(
            base + tiny + args, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
        )
        assert done.returncode != 0
        assert "Traceback" not in done.stderr and expected in done.stderr
        assert "weights_only" not in done.stderr
        assert not runs.exists() or list(runs.iterdir()) == []
    assert not (tmp_path / "pwned").exists()


def test_stale_temp_files_are_removed_when_a_run_is_resumed(colour_data, tmp_path) -> None:
    run = RunFolder.create("stale", tmp_path / "runs")
    config = tiny_config(colour_data, epochs=1)
    Trainer(config, run).run()
    # A writer killed with kill -9 between creating its temp file and renaming it.
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from gender_desktop.fileio import make_temp; "
            "fd, tmp = make_temp(Path(sys.argv[1])); print(tmp, flush=True); time.sleep(60)",
            str(run.path / LAST),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    killed = Path(writer.stdout.readline().strip())
    writer.kill()
    writer.wait()
    old_style = run.path / ".metrics.csv.abcd1234.tmp"  # no pid in the name: judged by age
    old_style.write_bytes(b"x")
    os.utime(old_style, (time.time() - 120, time.time() - 120))
    live_fd, live = fileio.make_temp(run.path / BEST)  # this process's own: being written
    other = run.path / "notes.tmp"  # not the app's pattern: never touched
    other.write_text("mine")
    assert killed.exists()
    Trainer(tiny_config(colour_data, epochs=2), run).run(resume=True)
    assert not killed.exists() and not old_style.exists()
    assert live.exists() and other.exists()
    os.close(live_fd)


def test_fileio_names_the_target_of_a_failed_write(tmp_path, monkeypatch) -> None:
    fill_disk_for(monkeypatch, lambda target: True)
    target = tmp_path / "labels.csv"
    with pytest.raises(OSError) as caught:
        fileio.atomic_write_text(target, "a,b\n")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("n", "text"),
    [(512, "512 bytes"), (12_345_678, "12.3 MB"), (3_200, "3.2 KB"), (51e9, "51.0 GB")],
)
def test_sizes_read_as_people_read_them(n, text) -> None:
    assert fileio.format_size(n) == text
