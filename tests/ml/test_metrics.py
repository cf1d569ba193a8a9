"""The evaluation metrics against numbers worked out by hand.

Male is the positive class; an image is called Male when ``p_male >= threshold``. The example
below is small enough to check on paper:

    image   0    1    2    3  |  4    5    6    7    8    9
    label   M    M    M    M  |  F    F    F    F    F    F
    p_male .9   .8   .6   .4  | .7   .5   .4   .2   .2   .1

At 0.5: Males 0-2 are found (tp 3), male 3 is missed (fn 1); females 4 and 5 (0.5 counts as
Male) are false alarms (fp 2), the other four are right (tn 4).
"""

from __future__ import annotations

from itertools import product

import numpy as np
import pandas as pd
import pytest

from gender_desktop.ml import metrics
from gender_desktop.ml.metrics import (
    MIN_SLICE,
    auc,
    binary_metrics,
    evaluation_summary,
    roc_curve,
    roc_summary,
    slice_masks,
    slice_table,
)

LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P_MALE = np.array([0.9, 0.8, 0.6, 0.4, 0.7, 0.5, 0.4, 0.2, 0.2, 0.1])


def test_counts_and_ratios_at_the_default_threshold() -> None:
    m = binary_metrics(LABELS, P_MALE)
    assert m["confusion"] == {"tp": 3, "fn": 1, "fp": 2, "tn": 4}
    assert m["n"] == 10 and m["threshold"] == 0.5
    assert m["accuracy"] == pytest.approx(7 / 10)
    # Male: precision tp/(tp+fp) = 3/5, recall tp/(tp+fn) = 3/4, F1 = 2PR/(P+R) = 2/3
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["Male"] == pytest.approx(
        {"precision": 3 / 5, "recall": 3 / 4, "f1": 2 / 3, "support": 4}
    )
    # Female: precision tn/(tn+fn) = 4/5, recall tn/(tn+fp) = 4/6, F1 = 2*(4/5)(2/3)/(22/15) = 8/11
    assert m["per_class"]["Female"] == pytest.approx(
        {"precision": 4 / 5, "recall": 4 / 6, "f1": 8 / 11, "support": 6}
    )
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 4 / 6) / 2)


@pytest.mark.parametrize(
    "threshold, counts",
    [
        # >= 0.3: every male (lowest .4), and females .7 .5 .4
        (0.3, {"tp": 4, "fn": 0, "fp": 3, "tn": 3}),
        # >= 0.7: males .9 .8, and the female at exactly .7
        (0.7, {"tp": 2, "fn": 2, "fp": 1, "tn": 5}),
    ],
)
def test_the_threshold_moves_images_between_the_cells(threshold, counts) -> None:
    m = binary_metrics(LABELS, P_MALE, threshold)
    assert m["confusion"] == counts
    tp, fn, fp, tn = counts["tp"], counts["fn"], counts["fp"], counts["tn"]
    assert m["accuracy"] == pytest.approx((tp + tn) / 10)
    assert m["precision"] == pytest.approx(tp / (tp + fp))
    assert m["recall"] == pytest.approx(tp / (tp + fn))
    assert m["threshold"] == threshold


def test_auc_is_the_share_of_male_female_pairs_ranked_right() -> None:
    # 4 males x 6 females = 24 pairs. Male .9 and .8 outrank all 6 females; .6 outranks 5 (not
    # .7); .4 outranks .2 .2 .1 and ties with the female .4 (half a pair): 6 + 6 + 5 + 3.5.
    by_hand = (6 + 6 + 5 + 3.5) / 24
    pairs = [
        1.0 if m > f else 0.5 if m == f else 0.0
        for m, f in product(P_MALE[LABELS == 1], P_MALE[LABELS == 0])
    ]
    assert np.mean(pairs) == pytest.approx(by_hand)
    fpr, tpr, _ = roc_curve(LABELS, P_MALE)
    assert auc(fpr, tpr) == pytest.approx(by_hand)
    assert roc_summary(LABELS.astype(bool), P_MALE)["auc"] == pytest.approx(by_hand)


def test_roc_curve_points_step_through_the_distinct_scores() -> None:
    fpr, tpr, thresholds = roc_curve(LABELS, P_MALE)
    # Scores high to low: .9 .8 .7 .6 .5 .4(M+F) .2(F F) .1 -> one point per distinct score.
    assert thresholds.tolist() == [np.inf, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2, 0.1]
    assert (tpr * 4).round().astype(int).tolist() == [0, 1, 2, 2, 3, 3, 4, 4, 4]
    assert (fpr * 6).round().astype(int).tolist() == [0, 0, 0, 1, 1, 2, 3, 5, 6]
    # Point i is exactly the confusion at threshold thresholds[i]:
    m = binary_metrics(LABELS, P_MALE, 0.7)
    assert tpr[3] == pytest.approx(m["recall"])
    assert fpr[3] == pytest.approx(m["confusion"]["fp"] / 6)


def test_perfect_reversed_and_chance_rankings() -> None:
    labels = np.array([1, 1, 0, 0])
    assert roc_summary(labels, np.array([0.9, 0.8, 0.2, 0.1]))["auc"] == pytest.approx(1.0)
    assert roc_summary(labels, np.array([0.1, 0.2, 0.8, 0.9]))["auc"] == pytest.approx(0.0)
    assert roc_summary(labels, np.full(4, 0.5))["auc"] == pytest.approx(0.5)


def test_one_class_only_gives_zeros_for_empty_ratios_and_no_auc() -> None:
    labels = np.ones(4, dtype=int)  # all Male
    m = binary_metrics(labels, np.array([0.9, 0.6, 0.4, 0.2]))
    assert m["confusion"] == {"tp": 2, "fn": 2, "fp": 0, "tn": 0}
    assert m["accuracy"] == 0.5 and m["precision"] == 1.0 and m["recall"] == 0.5
    # No female images: female recall and precision have empty denominators -> 0.0
    assert m["per_class"]["Female"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["balanced_accuracy"] == 0.0  # undefined with one class, reported as 0
    assert roc_summary(labels, np.array([0.9, 0.6, 0.4, 0.2]))["auc"] is None


def test_nothing_predicted_male_has_zero_precision_not_a_division_error() -> None:
    m = binary_metrics(np.array([1, 0, 0]), np.array([0.1, 0.2, 0.3]))
    assert m["confusion"] == {"tp": 0, "fn": 1, "fp": 0, "tn": 2}
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0


def test_no_images_at_all() -> None:
    empty = np.array([])
    m = binary_metrics(empty, empty)
    assert m["n"] == 0 and m["accuracy"] == 0.0
    assert m["confusion"] == {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
    assert roc_summary(empty.astype(bool), empty)["auc"] is None


def test_roc_summary_thins_long_curves_but_keeps_both_ends() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(5000) < 0.4
    scores = np.clip(labels * 0.3 + rng.random(5000) * 0.7, 0, 1)
    full = roc_curve(labels, scores)
    thin = roc_summary(labels, scores, points=50)
    assert len(thin["fpr"]) <= 51 and thin["fpr"][0] == 0.0 and thin["tpr"][-1] == 1.0
    assert thin["thresholds"][0] is None  # the (0, 0) point: "above every score"
    assert thin["auc"] == pytest.approx(auc(full[0], full[1]))  # from the full curve


# -- slices -------------------------------------------------------------------------------------
#
#   row       0    1    2    3    4    5    6    7
#   label     M    M    M    F    F    F    F    M
#   p_male   .9   .2   .8   .1   .7   .3   .4   .6
#   right?    y    n    y    y    n    y    y    y
#   glasses   1    1    0    0    1    0    0    0
#   age      25   25   25   33   50   61   70   18
#   race      W    B    A    W    B    A    W    I
SLICE_LABELS = np.array([1, 1, 1, 0, 0, 0, 0, 1])
SLICE_P = np.array([0.9, 0.2, 0.8, 0.1, 0.7, 0.3, 0.4, 0.6])
SLICE_TABLE = pd.DataFrame(
    {
        "image_id": [f"{i}.jpg" for i in range(8)],  # bookkeeping, never a slice
        "Eyeglasses": [1, 1, 0, 0, 1, 0, 0, 0],
        "age": [25, 25, 25, 33, 50, 61, 70, 18],
        "race": ["White", "Black", "Asian", "White", "Black", "Asian", "White", "Indian"],
    }
)


def test_slices_cover_both_values_of_a_flag_age_bands_and_categories() -> None:
    masks = {name: mask for _attr, name, mask in slice_masks(SLICE_TABLE)}
    assert masks["Eyeglasses"].tolist() == [1, 1, 0, 0, 1, 0, 0, 0]
    assert masks["no Eyeglasses"].tolist() == [0, 0, 1, 1, 0, 1, 1, 1]
    assert np.flatnonzero(masks["age 18-29"]).tolist() == [0, 1, 2, 7]
    assert np.flatnonzero(masks["age 60+"]).tolist() == [5, 6]
    assert not masks["age 0-17"].any()  # an empty band is a mask here, left out of the table
    assert np.flatnonzero(masks["race = White"]).tolist() == [0, 3, 6]
    assert not any("image_id" in name for name in masks)


def test_slice_table_worst_accuracy_first_with_hand_counted_numbers() -> None:
    rows = slice_table(SLICE_TABLE, SLICE_LABELS, SLICE_P)
    got = [(r["slice"], r["n"], round(r["accuracy"], 4)) for r in rows]
    assert got == [
        ("race = Black", 2, 0.0),  # rows 1, 4: both wrong; ties on accuracy: larger first
        ("age 45-59", 1, 0.0),  # row 4
        ("Eyeglasses", 3, 0.3333),  # rows 0, 1, 4: only row 0 right
        ("age 18-29", 4, 0.75),  # rows 0, 1, 2, 7: row 1 wrong
        ("no Eyeglasses", 5, 1.0),
        ("race = White", 3, 1.0),
        ("age 60+", 2, 1.0),
        ("race = Asian", 2, 1.0),
        ("age 30-44", 1, 1.0),
        ("race = Indian", 1, 1.0),
    ]
    glasses = rows[2]
    assert glasses["errors"] == 2 and glasses["male_share"] == pytest.approx(2 / 3)
    assert glasses["female_recall"] == 0.0  # its one female (row 4) was called Male
    assert glasses["recall"] == pytest.approx(1 / 2)  # males 0 (found) and 1 (missed)


def test_slices_with_too_few_images_rank_after_the_real_ones() -> None:
    # 30 images: slice "a" (10 images, half wrong), "b" (15, 3 wrong), "c" (5, all wrong).
    group = np.array(["a"] * 10 + ["b"] * 15 + ["c"] * 5)
    labels = np.ones(30, dtype=int)
    p = np.ones(30)
    p[[0, 1, 2, 3, 4]] = 0.0  # 5 of a wrong
    p[[10, 11, 12]] = 0.0  # 3 of b wrong
    p[25:] = 0.0  # all of c wrong
    rows = slice_table(pd.DataFrame({"group": group}), labels, p)
    assert [(r["slice"], r["accuracy"]) for r in rows] == [
        ("group = a", 0.5),
        ("group = b", 0.8),
        ("group = c", 0.0),  # the worst accuracy, but only 5 < MIN_SLICE images: noise
    ]
    assert MIN_SLICE == 10


def test_boolean_columns_and_missing_values() -> None:
    table = pd.DataFrame({"Smiling": [True, False, None, True]}, dtype=object)
    masks = {name: m for _a, name, m in slice_masks(table)}
    assert masks["Smiling"].tolist() == [True, False, False, True]
    assert masks["no Smiling"].tolist() == [False, True, False, False]  # unknown is neither


def test_many_valued_columns_are_not_sliced() -> None:
    table = pd.DataFrame({"identity": [str(i) for i in range(20)]})
    assert slice_masks(table) == []


def test_evaluation_summary_bundles_metrics_roc_and_slices() -> None:
    summary = evaluation_summary(SLICE_TABLE, SLICE_LABELS, SLICE_P, threshold=0.5)
    assert summary["metrics"] == metrics.binary_metrics(SLICE_LABELS, SLICE_P, 0.5)
    assert summary["roc"]["auc"] == pytest.approx(
        np.mean(
            [
                1.0 if m > f else 0.5 if m == f else 0.0
                for m, f in product(SLICE_P[SLICE_LABELS == 1], SLICE_P[SLICE_LABELS == 0])
            ]
        )
    )
    assert summary["slices"] == slice_table(SLICE_TABLE, SLICE_LABELS, SLICE_P)
    only_race = evaluation_summary(SLICE_TABLE, SLICE_LABELS, SLICE_P, attributes=["race"])
    assert {r["attribute"] for r in only_race["slices"]} == {"race"}
