"""Which images an Evaluate gallery lists, in which order, and the numbers at a threshold, on
small arrays worked out by hand; and slice names read the same everywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gender_desktop.ml import metrics
from gender_desktop.ml.evaluation_views import (
    EvaluationView,
    cell_positions,
    slice_key,
    slice_positions,
    still_suspect,
)
from gender_desktop.ml.results import SavedEvaluation, label_error_candidates
from gender_desktop.ml.slice_names import attribute_title, slice_title

#   position   0     1     2     3     4     5
#   label      M     M     M     F     F     F
#   p(Male)   0.9   0.4   0.1   0.8   0.3   0.55
MALE = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
P = np.array([0.9, 0.4, 0.1, 0.8, 0.3, 0.55])


def test_confusion_cells_list_their_images_most_confident_first() -> None:
    assert cell_positions(MALE, P, 0.5, "male_correct").tolist() == [0]
    assert cell_positions(MALE, P, 0.5, "male_as_female").tolist() == [2, 1]  # 0.1 surer than 0.4
    assert cell_positions(MALE, P, 0.5, "female_as_male").tolist() == [3, 5]
    assert cell_positions(MALE, P, 0.5, "female_correct").tolist() == [4]
    assert cell_positions(MALE, P, 0.5, "misclassified").tolist() == [2, 3, 1, 5]
    # The threshold moves images between cells: at 0.35 position 1 is called Male.
    assert cell_positions(MALE, P, 0.35, "male_correct").tolist() == [0, 1]
    with pytest.raises(KeyError, match="not a confusion cell"):
        cell_positions(MALE, P, 0.5, "label_errors")


def test_equal_confidence_keeps_position_order() -> None:
    male = np.ones(4, dtype=bool)
    assert cell_positions(male, np.array([0.2, 0.8, 0.2, 0.8]), 0.5, "misclassified").tolist() == [
        0,
        2,
    ]


def test_a_slice_lists_its_errors_first_then_the_rest() -> None:
    mask = np.array([1, 1, 0, 1, 1, 0], dtype=bool)  # positions 0, 1, 3, 4
    # wrong: 1 (male at 0.4), 3 (female at 0.8): surest first -> 3, 1; right: 0 (0.9), 4 (0.3)
    assert slice_positions(mask, MALE, P, 0.5).tolist() == [3, 1, 0, 4]
    assert slice_positions(np.zeros(6, dtype=bool), MALE, P, 0.5).tolist() == []


def test_suspects_relabeled_to_what_the_model_says_drop_out() -> None:
    p = np.array([0.95, 0.1, 0.8, 0.7])  # the model says M, F, M, M
    rows = np.array([4, 0, -1, 2])  # the third is not in the open dataset
    male_now = np.array([1, 0, 0, 0, 0])  # row 4 still Female, row 0 now Male, row 2 Female
    # row 4: F vs M -> stays; row 0: M vs F -> stays; unknown -> stays; row 2: F vs M -> stays
    assert still_suspect(p, rows, male_now).tolist() == [True, True, True, True]
    male_now[4] = 1  # relabeled to Male, as the model says: done with
    male_now[0] = 0  # relabeled to Female, as the model says: done with
    assert still_suspect(p, rows, male_now).tolist() == [False, False, True, True]
    assert still_suspect(p, rows, None).all()


def saved() -> SavedEvaluation:
    part = pd.DataFrame(
        {
            "image_id": [f"{i}.jpg" for i in range(6)],
            "split": ["test"] * 6,
            "label": ["Male" if m else "Female" for m in MALE],
            "p_male": P,
            "prediction": ["Male" if p >= 0.5 else "Female" for p in P],
            "Eyeglasses": [1, 1, 0, 1, 1, 0],
            "Wearing_Hat": [0, 0, 0, 0, 1, 1],
        }
    )
    attributes = part[["Eyeglasses", "Wearing_Hat"]]
    return SavedEvaluation(
        {"split": "test", "roc": metrics.roc_summary(MALE, P)},
        part,
        part,
        metrics.SliceIndex.of(attributes),
        label_error_candidates(part.assign(split="val")),
    )


def test_the_view_rescores_at_any_threshold_and_lists_slices_by_name() -> None:
    view = EvaluationView(saved())
    at_half = view.scores(0.5)
    assert at_half.metrics == metrics.binary_metrics(MALE, P, 0.5)
    assert at_half.attributes == 2
    names = {row["slice"] for row in at_half.slices}
    assert names == {"Eyeglasses", "no Eyeglasses", "Wearing Hat", "no Wearing Hat"}
    assert view.scores(0.35).metrics["confusion"]["tp"] == 2
    assert view.positions(slice_key("Eyeglasses"), 0.5).tolist() == [3, 1, 0, 4]
    assert view.positions("female_as_male", 0.5).tolist() == [3, 5]
    assert view.has_view(slice_key("Wearing Hat")) and not view.has_view(slice_key("Smiling"))
    with pytest.raises(KeyError, match="no slice called 'Smiling'"):
        view.positions(slice_key("Smiling"), 0.5)
    ids, p = view.suspects()
    assert ids.tolist() == ["2.jpg", "3.jpg", "1.jpg", "5.jpg"]  # most suspicious first
    assert p.tolist() == [0.1, 0.8, 0.4, 0.55]
    assert not view.suspects_cover_train()


def test_slice_names_are_readable_and_the_same_for_old_saved_names() -> None:
    assert attribute_title("5_o_Clock_Shadow") == "5 o'Clock Shadow"
    assert attribute_title("Wearing_Lipstick") == "Wearing Lipstick"
    table = pd.DataFrame({"5_o_Clock_Shadow": [1, 0, 1], "age_band": ["0-17", "18-29", "0-17"]})
    names = [name for _a, name, _m in metrics.slice_masks(table)]
    assert names == [
        "5 o'Clock Shadow",
        "no 5 o'Clock Shadow",
        "age band = 0-17",
        "age band = 18-29",
    ]
    # An evaluation.json written before kept the column names; shown, they read the same.
    assert slice_title("no 5_o_Clock_Shadow") == "no 5 o'Clock Shadow"
    assert slice_title("no Arched_Eyebrows") == "no Arched Eyebrows"
    for name in names:
        assert slice_title(name) == name
