"""Several machines on one sweep through a real PostgreSQL server (Optuna's RDB storage).

CI starts a throwaway server (``.ci/postgres.sh start``, called by ``.ci/run``) and sets
GENDER_DESKTOP_TEST_POSTGRES to its URL; elsewhere these tests are skipped (run
``eval "$(.ci/postgres.sh start)"`` first to run them). Two ``gender-desktop sweep`` processes
stand in for two machines: each has its own app data (its own GENDER_DESKTOP_HOME), both share
the database and a runs folder (as a lab's shared disk), and each test has a new database of
its own on that server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest

from gender_desktop.cli import main
from gender_desktop.ml.sweep_jobs import results
from gender_desktop.sweeps import study as studies
from gender_desktop.sweeps.storage import open_storage

URL = os.environ.get("GENDER_DESKTOP_TEST_POSTGRES", "")
pytestmark = pytest.mark.skipif(
    not URL,
    reason="GENDER_DESKTOP_TEST_POSTGRES is not set: no PostgreSQL server to test against "
    '(CI starts one; locally: eval "$(.ci/postgres.sh start)")',
)

TINY = [
    "--backbone", "resnet18", "--input-size", "32", "--weights", "random", "--hidden", "16",
    "--optimizer", "adam", "--workers", "1", "--no-flip", "--epochs", "1", "--scope", "head",
]  # fmt: skip


@pytest.fixture
def database() -> object:
    """A new, empty database on the test server for this test alone (dropped afterwards), so
    each test also meets Optuna creating its tables while two workers start at once."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"gd_{uuid.uuid4().hex[:12]}"
    admin = create_engine(URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _machine(home: Path) -> dict[str, str]:
    return os.environ | {"GENDER_DESKTOP_HOME": str(home)}


def _cli(args: list[str], home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gender_desktop", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_machine(home),
    )


def test_two_machines_share_one_postgres_study_and_each_lists_every_trial(
    colour_data: Path, tmp_path: Path, database: str, monkeypatch, capsys
) -> None:
    url, study_name = database, "two-machines"
    runs = tmp_path / "shared-runs"
    homes = [tmp_path / "machine-a", tmp_path / "machine-b"]
    args = [
        "sweep", "--data", str(colour_data), "--runs-dir", str(runs), *TINY,
        "--storage", url, "--study", study_name, "--grid", "lr=1e-3,1e-2", "batch=8,16",
        "--worker-trials", "2",  # each machine's share: a fast one cannot take the whole grid
    ]  # fmt: skip
    workers = [_cli(args, home) for home in homes]
    ended = [w.communicate(timeout=240) for w in workers]
    for w, (_out, err) in zip(workers, ended, strict=True):
        assert w.returncode == 0, err

    study = optuna.load_study(study_name=study_name, storage=open_storage(url).optuna)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == 4 == len(study.trials)  # the grid, nothing more
    assert len({tuple(sorted(t.params.items())) for t in done}) == 4  # no point twice
    assert sorted(t.number for t in done) == [0, 1, 2, 3]  # each trial once
    pids = {t.user_attrs[studies.WORKER].rsplit(":", 1)[1] for t in done}
    assert pids == {str(w.pid) for w in workers}  # both machines took trials

    for home in homes:  # either side: the runs table and the study's results list all four
        monkeypatch.setenv("GENDER_DESKTOP_HOME", str(home))
        assert main(["runs", "--runs-dir", str(runs), "--json"]) == 0
        rows = [r for r in json.loads(capsys.readouterr().out) if r.get("sweep")]
        assert sorted(r["sweep"]["trial"] for r in rows) == [0, 1, 2, 3]
        assert {r["sweep"]["study"] for r in rows} == {study_name}
    summary = results({"storage": url, "study": study_name})
    assert sorted(t["number"] for t in summary["trials"]) == [0, 1, 2, 3]
    assert summary["storage"] == url  # no password in this URL: shown as given
