"""What an attacker's tour of the CLI found after the first fixes (issue 8): each input now
gets a message naming the setting or file, never an internal error or a clobbered file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from setups import tiny_config

from gender_desktop.errors import UserError
from gender_desktop.fileio import atomic_write_bytes
from gender_desktop.ml.config import ConfigError
from gender_desktop.ml.models import ModelConfig
from gender_desktop.ml.trainer import Trainer, TrainingFailed
from gender_desktop.runs.folder import RunFolder, RunUnusable


def test_an_atomic_write_never_replaces_a_fifo_or_a_device_and_writes_through_a_link(
    tmp_path: Path,
) -> None:
    """predict --csv /dev/full (as root) replaced the device node with a plain file."""
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match=r"out\.csv: not a regular file"):
        atomic_write_bytes(fifo, b"x")
    assert fifo.is_fifo()
    with pytest.raises(UserError, match="a folder"):
        atomic_write_bytes(tmp_path, b"x")
    real = tmp_path / "real.csv"
    real.write_bytes(b"old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_a_run_name_cannot_leave_the_runs_folder(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name in ("../../ESCAPED", "a/b", "..", "\x00\n"):
        run = RunFolder.create(name, runs)
        run.make()
        assert run.path.parent == runs and run.path.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_two_new_runs_started_in_the_same_second_get_two_folders(tmp_path: Path) -> None:
    first, second = RunFolder.create("same", tmp_path), RunFolder.create("same", tmp_path)
    assert first.path == second.path  # neither exists yet
    first.make()
    second.make()
    assert first.path != second.path and first.path.is_dir() and second.path.is_dir()


def test_resuming_a_run_without_last_pt_is_refused_instead_of_retraining_it(
    colour_data: Path, tmp_path: Path
) -> None:
    run = RunFolder.create("done", tmp_path)
    Trainer(tiny_config(colour_data, epochs=1), run=run).run()
    (run.path / "last.pt").unlink()
    best = (run.path / "best.pt").read_bytes()
    with pytest.raises(TrainingFailed, match=r"nothing to resume: last\.pt is missing"):
        Trainer(tiny_config(colour_data, epochs=2), run=RunFolder(run.path)).run(resume=True)
    assert (run.path / "best.pt").read_bytes() == best


def test_a_scope_naming_no_block_is_a_setting_error(colour_data: Path) -> None:
    config = tiny_config(
        colour_data, model=ModelConfig(backbone="resnet18", input_size=32, scope="from:nope")
    )
    with pytest.raises(ConfigError, match="resnet18 has no block 'nope'; its blocks are"):
        Trainer(config).run()


def test_a_config_nested_too_deep_is_not_valid_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("[" * 100_000)
    with pytest.raises(RunUnusable, match=r"config\.json: is not valid JSON"):
        RunFolder(tmp_path).train_config()


def test_an_absurd_learning_rate_is_refused_before_training(colour_data: Path) -> None:
    with pytest.raises(ConfigError, match=r"learning rate must be positive and at most 1e\+06"):
        tiny_config(colour_data, lr=1e308).validate()


def test_a_batch_of_one_image_that_batchnorm_cannot_train_is_explained(
    colour_data: Path, tmp_path: Path
) -> None:
    config = tiny_config(
        colour_data,
        model=ModelConfig(backbone="resnet18", input_size=32, scope="last_block"),
        batch_size=1,
        epochs=1,
    )
    run = RunFolder.create("one", tmp_path)
    with pytest.raises(TrainingFailed, match="a batch of one image cannot train this network"):
        Trainer(config, run=run).run()
    assert not run.path.exists()


def test_weights_behind_a_symbolic_link_loop_are_a_clear_message(tmp_path: Path) -> None:
    loop = tmp_path / "best.pt"
    loop.symlink_to(loop)
    done = subprocess.run(
        [sys.executable, "-m", "gender_desktop", "train", "--data", str(tmp_path),
         "--weights", f"file:{loop}", "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "GENDER_DESKTOP_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert f"{loop}: --weights: cannot follow this path" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_run_checkpoint_given_as_a_weights_file_points_to_run(tmp_path: Path) -> None:
    """A best.pt given as file: was told only that its hash did not match."""
    from gender_desktop.ml.weights import WeightsUnavailable, verify_file

    best = tmp_path / "best.pt"
    best.write_bytes(b"a checkpoint of another kind")
    with pytest.raises(
        WeightsUnavailable, match=r"not torchvision's ImageNet weights for resnet18"
    ):
        verify_file(best, "resnet18")
    with pytest.raises(WeightsUnavailable, match=r"use run:<its run folder>"):
        verify_file(best, "resnet18")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(WeightsUnavailable, match=r"empty\.pth: is empty \(0 bytes\)"):
        verify_file(tmp_path / "empty.pth", "resnet18")
    os.mkfifo(tmp_path / "pipe.pth")
    with pytest.raises(WeightsUnavailable, match="not a regular file"):
        verify_file(tmp_path / "pipe.pth", "resnet18")
