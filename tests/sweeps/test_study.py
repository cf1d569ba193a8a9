"""Studies without training: storages and their messages, creating and joining, the grid
enqueued once, a joining worker with another sweep refused, interrupted trials reclaimed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState

from gender_desktop.errors import UserError
from gender_desktop.ml.config import TrainConfig
from gender_desktop.sweeps import study as studies
from gender_desktop.sweeps.results import row
from gender_desktop.sweeps.runner import next_trial
from gender_desktop.sweeps.space import parse_space
from gender_desktop.sweeps.spec import SweepSpec
from gender_desktop.sweeps.storage import default_url, open_storage, public_url


def _spec(tmp_path: Path, specs: list[str], **changes) -> SweepSpec:
    changes.setdefault("storage", f"journal:{tmp_path / 'sweep.log'}")
    changes.setdefault("study", "s")
    return SweepSpec(TrainConfig(data=str(tmp_path)), parse_space(specs), **changes)


def test_urls_are_shown_without_their_password() -> None:
    assert public_url("postgresql://me:secret@db.lab:5432/sweeps") == (
        "postgresql://me@db.lab:5432/sweeps"
    )
    assert public_url("journal:/shared/s.log") == "journal:/shared/s.log"


def test_the_default_storage_is_sqlite_in_the_app_data(app_home: Path) -> None:
    assert default_url() == f"sqlite:///{app_home / 'data' / 'sweeps.db'}"
    assert open_storage().lock_file == app_home / "data" / "sweeps.db.lock"


def test_a_storage_that_cannot_open_is_a_message_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        open_storage("postgresql://me:secret@127.0.0.1:9/none")
    text = str(caught.value)
    assert text.startswith("cannot open the sweep storage postgresql://me@127.0.0.1:9/none")
    assert "secret" not in text
    with pytest.raises(UserError, match="no such folder"):
        open_storage(f"journal:{tmp_path / 'missing' / 's.log'}")
    with pytest.raises(UserError, match="no such folder"):
        open_storage(f"sqlite:///{tmp_path / 'missing' / 's.db'}")


def test_the_grid_is_enqueued_once_and_joining_workers_take_waiting_trials(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ["lr=1e-3,1e-4", "batch=32,64,128"])
    storage = open_storage(spec.storage)
    first = studies.open_study(spec, storage)
    joined = studies.open_study(spec, open_storage(spec.storage))  # the same command again
    assert len(joined.get_trials(states=(TrialState.WAITING,))) == 6
    assert joined.user_attrs["space"] == ["lr=0.001,0.0001", "batch=32,64,128"]
    taken = [next_trial(s, spec, storage) for s in (first, joined, first, joined, first, joined)]
    assert sorted(t.user_attrs[studies.POINT] for t in taken) == list(range(6))
    assert next_trial(first, spec, storage) is None  # the grid does not grow
    assert len(first.trials) == 6


def test_a_worker_with_another_sweep_is_refused_saying_what_differs(tmp_path: Path) -> None:
    studies.open_study(_spec(tmp_path, ["lr=1e-3,1e-4"]), open_storage(_spec(tmp_path, []).storage))
    other = _spec(tmp_path, ["lr=1e-3,1e-2"])
    other.base.epochs = 3
    with pytest.raises(UserError) as caught:
        studies.open_study(other, open_storage(other.storage))
    text = str(caught.value)
    assert "the study 's' runs another sweep" in text
    assert "space: lr=0.001,0.0001 in the study, lr=0.001,0.01 here" in text
    assert "epochs: 10 in the study, 3 here" in text
    assert "another --study name" in text
    # a worker's own dataset path and device are its own business
    same = _spec(tmp_path, ["lr=1e-3,1e-4"])
    same.base.data, same.base.device = "/mnt/other/copy", "cpu"
    studies.open_study(same, open_storage(same.storage))


def test_a_trial_whose_worker_died_runs_again(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ["lr=1e-3,1e-4"])
    storage = open_storage(spec.storage)
    study = studies.open_study(spec, storage)
    trial = next_trial(study, spec, storage)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host = studies.worker_id().rsplit(":", 1)[0]
    trial.suggest_categorical("lr", [1e-3, 1e-4])
    trial.set_user_attr(studies.WORKER, f"{host}:{dead.stdout.strip()}")
    again = studies.open_study(spec, open_storage(spec.storage))
    states = sorted(t.state.name for t in again.trials)
    assert states == ["FAIL", "WAITING", "WAITING"]
    failed = next(t for t in again.trials if t.state == TrialState.FAIL)
    assert row(failed).state == "interrupted"


def test_a_study_gives_back_the_sweep_it_runs(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ["lr=1e-3,1e-4", "scope=head,last_block"], pruner="median")
    spec.base.epochs = 4
    studies.open_study(spec, open_storage(spec.storage))
    again = studies.load_spec("s", spec.storage)
    assert again.space == spec.space and again.base == spec.base
    assert (again.sampler, again.pruner, again.metric) == ("grid", "median", "val_loss")
    assert again.study_name() == "s"
    with pytest.raises(UserError, match="no study 'nope'"):
        studies.load_spec("nope", spec.storage)
