"""`gender-desktop info`: the headless summary of a dataset, as text and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import builders

from gender_desktop.cli import main


def test_info_json_has_the_promised_fields(tmp_path: Path, capsys) -> None:
    builders.celeba_official(tmp_path, 50)
    (tmp_path / "img_align_celeba" / "000010.jpg").write_bytes(b"")
    (tmp_path / "img_align_celeba" / "000011.jpg").unlink()
    assert main(["info", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["layout"] == "celeba-official"
    assert out["images"] == 49 and out["male"] + out["female"] == 49
    assert set(out["splits"]) == {"train", "val", "test"}
    assert out["splits"]["test"] == {"male": 2, "female": 3}
    assert out["missing"] == 1 and out["corrupt"] == 1 and out["skipped"] == 0
    assert out["missing_files"] == ["000011.jpg"]
    assert out["corrupt_files"][0]["image_id"] == "000010.jpg"


def test_info_text_for_people(tmp_path: Path, capsys) -> None:
    builders.utkface(tmp_path, 30)
    assert main(["info", str(tmp_path), "--list"]) == 0
    out = capsys.readouterr().out
    assert "layout:    utkface" in out
    assert "images:    30 (12 male / 18 female)" in out
    assert "skipped 2" in out
    assert "skipped: " in out and "the race field is missing" in out


def test_info_error_exits_2_with_the_message(tmp_path: Path, capsys) -> None:
    (tmp_path / "labels.csv").write_text("image_id,Smiling\na.jpg,1\n")
    assert main(["info", str(tmp_path / "labels.csv")]) == 2
    err = capsys.readouterr().err
    assert "labels.csv, line 1: no 'Male' column" in err


def test_python_dash_m_runs_the_cli_without_qt(tmp_path: Path) -> None:
    builders.folder_per_class(tmp_path, 10)
    code = (
        "import sys; from gender_desktop.cli import main; rc = main(['info', sys.argv[1], "
        "'--json']); assert 'PySide6' not in sys.modules, 'CLI imported Qt'; sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"] == 10
