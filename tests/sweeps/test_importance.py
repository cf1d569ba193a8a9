"""Parameter importances from a study of any size: never an error for a small sweep."""

from __future__ import annotations

import optuna
import pytest

from gender_desktop.sweeps.results import importance


def study_with(values: list[tuple[float, int, float]]) -> optuna.Study:
    study = optuna.create_study(direction="minimize")
    for lr, batch, loss in values:
        study.add_trial(
            optuna.trial.create_trial(
                params={"lr": lr, "batch": batch},
                distributions={
                    "lr": optuna.distributions.CategoricalDistribution([1e-3, 1e-4, 1e-2]),
                    "batch": optuna.distributions.CategoricalDistribution([32, 64]),
                },
                value=loss,
            )
        )
    return study


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_finished_trials_give_no_importances_rather_than_an_error(n: int) -> None:
    trials = [(1e-3, 32, 0.3), (1e-4, 64, 0.5)][:n]
    assert importance(study_with(trials)) == {}


def test_the_parameter_that_decides_the_loss_matters_most() -> None:
    trials = [
        (lr, b, {1e-3: 0.2, 1e-4: 0.5, 1e-2: 0.9}[lr])
        for lr in (1e-3, 1e-4, 1e-2)
        for b in (32, 64)
    ]
    found = importance(study_with(trials * 2))
    assert set(found) == {"lr", "batch"} and found["lr"] > found["batch"]
    assert abs(sum(found.values()) - 1) < 1e-6
