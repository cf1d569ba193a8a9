"""The runs table's records: every column from a real trainer's folder, older runs without
status.json, damaged files named, the trash skipped, and 500 runs listed in well under 1 s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from runfiles import write_run

from gender_desktop.ml.config import AugmentConfig, ModelConfig
from gender_desktop.runs import index
from gender_desktop.runs.index import list_records, read_record
from gender_desktop.runs.meta import update_meta


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny real training (2 epochs, evaluated on its test split by the trainer)."""
    import builders
    from setups import tiny_config, train_in_own_home

    root = tmp_path_factory.mktemp("trained")
    data = builders.celeba_official(root / "data", 40)
    run, _summary = train_in_own_home(root, tiny_config(data), "tiny")
    return run.path


def test_a_trained_run_fills_every_column(trained: Path) -> None:
    record = read_record(trained)
    assert record is not None and record.problem == ""
    assert (record.title, record.backbone, record.scope) == (trained.name, "resnet18", "last_block")
    assert (record.weights, record.optimizer, record.lr, record.batch_size) == (
        "random",
        "adam",
        1e-3,
        16,
    )
    assert (record.epochs_done, record.epochs_planned, record.epochs_text) == (2, 2, "2/2")
    assert (record.input_size, record.augmentation, record.device) == (32, "none", "cpu")
    assert record.layout == "celeba-official" and len(record.fingerprint) > 8
    assert record.status == "finished" and record.has_model and record.has_predictions
    best = min(record.history, key=lambda r: r["val_loss"])
    assert record.best_epoch == best["epoch"] and record.best_val_accuracy == best["val_accuracy"]
    assert record.train_seconds == pytest.approx(
        sum(r["seconds"] for r in record.history), abs=1e-3
    )
    assert record.evaluation == "test" and record.test_n == record.split_sizes["test"]
    low, high = record.test_ci
    assert low <= record.test_accuracy <= high
    assert sum(record.confusion.values()) == record.test_n
    assert record.created.startswith(trained.name[:4])


def test_titles_tags_and_notes_come_from_meta_and_are_reread(tmp_path: Path) -> None:
    run = write_run(tmp_path, "20260101-120000-a")
    assert list_records(tmp_path)[0].title == "20260101-120000-a"
    update_meta(run.path, title="Frozen, lr 1e-3", tags=["grid"], note="baseline")
    record = list_records(tmp_path)[0]
    assert (record.title, record.tags, record.note) == ("Frozen, lr 1e-3", ["grid"], "baseline")
    assert record.created == "2026-01-01 12:00:00"


def test_runs_without_status_json_are_finished_or_stopped(tmp_path: Path) -> None:
    write_run(tmp_path, "done", epochs=3, status=None)
    write_run(tmp_path, "cut", epochs=2, planned=5, status=None)
    write_run(tmp_path, "live", epochs=1, planned=5, status="running")
    states = {r.name: (r.status, r.epochs_text) for r in list_records(tmp_path)}
    # "live" was written by this test process, which is alive: still running
    assert states == {
        "done": ("finished", "3/3"),
        "cut": ("stopped", "2/5"),
        "live": ("running", "1/5"),
    }


def test_a_crashed_running_run_shows_as_interrupted_though_its_files_never_change(
    tmp_path: Path,
) -> None:
    import json
    import socket

    run = write_run(tmp_path, "crashed", epochs=1, planned=5, status="running")
    assert list_records(tmp_path)[0].status == "running"
    status = json.loads((run.path / "status.json").read_text())
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    status.update(pid=dead, host=socket.gethostname())
    (run.path / "status.json").write_text(json.dumps(status))
    assert list_records(tmp_path)[0].status == "interrupted"


def test_settings_evaluations_and_damage(tmp_path: Path) -> None:
    write_run(
        tmp_path,
        "b-aug",
        model=ModelConfig(backbone="mobilenet_v2", scope="head", input_size=64),
        augment=AugmentConfig(flip=True, rotation=10, zoom=0.1),
        weights="imagenet",
        correct=[True] * 7 + [False] * 3,
    )
    write_run(tmp_path, "c-val", correct=[True, False], split="val")
    broken = write_run(tmp_path, "d-broken")
    (broken.path / "metrics.csv").write_text("epoch,val_loss\n1,not-a-number\n")
    records = {r.name: r for r in list_records(tmp_path)}
    aug = records["b-aug"]
    assert (aug.backbone, aug.scope, aug.input_size) == ("mobilenet_v2", "head", 64)
    assert aug.augmentation == "flip, rotate 10°, zoom 0.1" and aug.weights == "imagenet"
    assert (aug.test_accuracy, aug.test_n, aug.test_auc) == (0.7, 10, 0.8)
    assert records["c-val"].evaluation == "val" and records["c-val"].test_accuracy is None
    damaged = records["d-broken"]
    assert str(broken.path / "metrics.csv") in damaged.problem and damaged.epochs_done == 0
    assert damaged.backbone == "resnet18"  # the rest of the run is still shown


def test_the_trash_and_other_hidden_folders_are_not_runs(tmp_path: Path) -> None:
    write_run(tmp_path, "kept")
    write_run(tmp_path / ".trash", "deleted")
    (tmp_path / "not-a-run").mkdir()
    assert [r.name for r in list_records(tmp_path)] == ["kept"]
    assert list_records(tmp_path / "missing") == []


def test_500_runs_list_in_well_under_a_second(tmp_path: Path) -> None:
    template = write_run(tmp_path / "t", "template", epochs=20, correct=[True, False] * 50)
    files = {p.name: p.read_bytes() for p in template.path.iterdir()}
    for i in range(500):
        folder = tmp_path / "runs" / f"20260101-{i:06d}-run"
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    index._cache.clear()
    started = time.perf_counter()
    records = list_records(tmp_path / "runs")
    cold = time.perf_counter() - started
    started = time.perf_counter()
    again = list_records(tmp_path / "runs")
    warm = time.perf_counter() - started
    assert len(records) == len(again) == 500 and records[0].test_n == 100
    assert warm < 1.0, f"warm listing took {warm:.2f} s"
    assert cold < 20.0, f"cold listing took {cold:.2f} s"  # 2 shared cores; ~1 s on a laptop
    # a changed file is re-read, the others come from the cache
    update_meta(records[0].path, title="renamed")
    assert list_records(tmp_path / "runs")[0].title == "renamed"
