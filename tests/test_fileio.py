"""Atomic writes: whole or nothing, and with ordinary file permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gender_desktop.fileio import atomic_write_json, atomic_write_text


def test_new_files_get_the_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "labels.csv", "a,b\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "labels.csv").stat().st_mode) == 0o644


def test_existing_permissions_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    target.write_text("{}")
    target.chmod(0o600)
    atomic_write_json(target, {"a": 1})
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().strip().startswith("{")


def test_a_failed_write_leaves_the_old_file_and_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    atomic_write_json(target, {"v": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"v": object()})
    assert target.read_text().count('"v": 1') == 1
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]
