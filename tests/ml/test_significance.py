"""McNemar's exact test and the intervals against values computed by hand from the formulas."""

from __future__ import annotations

import math

import pytest

from gender_desktop.ml.significance import (
    PairedResult,
    describe,
    format_p,
    mcnemar_exact,
    paired_difference_interval,
    paired_test,
    wilson_interval,
)


def test_mcnemar_exact_by_hand() -> None:
    # b=10, c=2: n=12, P(X<=2) = (C(12,0)+C(12,1)+C(12,2)) / 2^12 = (1+12+66)/4096 = 79/4096
    # p = 2 * 79/4096 = 0.0385742...
    assert mcnemar_exact(10, 2) == pytest.approx(158 / 4096, abs=1e-12)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    # b=5, c=0: p = 2 * (1/32) = 0.0625
    assert mcnemar_exact(5, 0) == pytest.approx(0.0625)
    # b=c: the tail passes 1/2, so p is capped at 1; no discordant pairs: 1
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_mcnemar_large_tables_use_the_same_formula_in_log_space() -> None:
    # b=560, c=480: n=1040 > EXACT_LIMIT. The exact integer sum of the same tail:
    n, k = 1040, 480
    exact = 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    assert mcnemar_exact(560, 480) == pytest.approx(exact, rel=1e-9)
    assert 0.01 < exact < 0.02  # 80 more discordant images one way out of 1,040


def test_wilson_interval_by_hand() -> None:
    # 8 of 10: p=0.8, z=1.96: denom = 1 + 3.8415/10 = 1.38415;
    # centre = (0.8 + 3.8415/20) / 1.38415 = 0.99207/1.38415 = 0.71674;
    # half = 1.96/1.38415 * sqrt(0.016 + 3.8415/400) = 1.41602 * 0.16003 = 0.22661
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_paired_difference_interval_by_hand() -> None:
    # Agresti-Min, b=10, c=2, n=100: m=102, pb=10.5/102=0.102941, pc=2.5/102=0.024510,
    # d = pc - pb = -0.078431; se = sqrt((0.127451 - 0.006151)/102) = sqrt(0.0011892) = 0.034485
    # CI = -0.078431 -/+ 1.959964 * 0.034485 = (-0.146019, -0.010843)
    low, high = paired_difference_interval(10, 2, 100)
    assert low == pytest.approx(-0.14602, abs=1e-4)
    assert high == pytest.approx(-0.01084, abs=1e-4)


def test_paired_test_counts_the_discordant_images() -> None:
    a = [True] * 90 + [False] * 10  # A right on the first 90
    b = [True] * 80 + [False] * 10 + [True] * 2 + [False] * 8  # B misses 10 A got, gets 2 A missed
    result = paired_test(a, b)
    assert (result.n, result.b, result.c) == (100, 10, 2)
    assert (result.correct_a, result.correct_b) == (90, 82)
    assert result.difference == pytest.approx(-0.08)
    assert result.p_value == pytest.approx(0.0385742, abs=1e-6)
    with pytest.raises(ValueError):
        paired_test([True], [True, False])


def test_describe_in_words() -> None:
    better = PairedResult(3000, 2700, 2718, b=40, c=58, p_value=0.0864, ci_low=0.0, ci_high=0.0)
    assert describe("A", "B", better) == (
        "A and B are not distinguishable on these 3,000 images (p = 0.09)"
    )
    result = paired_test(
        [True] * 90 + [False] * 10, [True] * 80 + [False] * 10 + [True] * 2 + [False] * 8
    )
    # A is better by 8 points: CI of B - A is (-14.6, -1.1) points, so A - B is (1.1, 14.6)
    assert (
        describe("A", "B", result)
        == "A is better than B by 8.0 points (95% CI 1.1 to 14.6), p = 0.04"
    )
    same = [True] * 82 + [False] * 18
    assert describe("B", "A", paired_test(same, same)) == (
        "B and A are not distinguishable on these 100 images (p = 1.00)"
    )
    # B better: the interval is of B - A as it stands
    flipped = paired_test(
        result_b := [True] * 80 + [False] * 10 + [True] * 2 + [False] * 8,
        [True] * 90 + [False] * 10,
    )
    assert result_b and describe("A", "B", flipped) == (
        "B is better than A by 8.0 points (95% CI 1.1 to 14.6), p = 0.04"
    )
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(0.0042) == "p = 0.0042"
