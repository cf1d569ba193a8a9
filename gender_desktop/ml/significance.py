"""Is one run really better than another on the same test images? Pure Python and numpy.

Two runs evaluated on the same images are *paired*: what matters is the images on which they
disagree. With ``b`` = images A gets right and B gets wrong, and ``c`` = the reverse, the
difference in accuracy is ``(c - b) / n`` and McNemar's exact test asks how likely a split of
the ``b + c`` discordant images at least this lopsided is if neither run were better (each
discordant image a fair coin). The exact binomial form is used rather than the chi-squared
approximation because sweeps compare close runs, where ``b + c`` is often small.

The intervals:

* one accuracy: Wilson's score interval (good coverage near 0 and 1, unlike the Wald
  interval, and never outside [0, 1]);
* the paired difference of two accuracies: Agresti and Min's adjusted Wald interval (2005,
  "Simple improved confidence intervals for comparing matched proportions"): add 1/2 to each
  cell of the 2 x 2 agreement table, then the Wald interval of the difference of matched
  proportions. Its coverage is close to nominal even for small tables, and it needs no
  iteration.

scipy would give the binomial tail, but it is not a dependency of the app, and the sums here
are a few lines; they are checked against hand-computed values in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal
ALPHA = 0.05
EXACT_LIMIT = 1000  # up to this many discordant pairs the tail is summed in exact integers


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: ``min(1, 2 P(X <= min(b, c)))`` with
    ``X ~ Binomial(b + c, 1/2)``; 1 when the runs never disagree."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts cannot be negative")
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    if n <= EXACT_LIMIT:
        tail = sum(math.comb(n, i) for i in range(k + 1))
        return min(1.0, 2 * tail / 2**n)
    # Large tables: the same sum in log space (lgamma), exact to ~1e-12 relative.
    logs = np.array([_log_comb(n, i) for i in range(k + 1)]) - n * math.log(2)
    top = logs.max()
    return float(min(1.0, 2 * math.exp(top) * np.exp(logs - top).sum()))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's 95 % score interval of an accuracy ``correct / n`` (``(0, 1)`` when n = 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_difference_interval(b: int, c: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Agresti-Min 95 % interval of ``acc_B - acc_A = (c - b) / n`` for ``n`` paired images
    (b: A right and B wrong; c: A wrong and B right): with 1/2 added to each of the four
    cells, ``d = (c - b) / (n + 2)`` and
    ``se = sqrt((p_b + p_c - (p_c - p_b)^2) / (n + 2))``, ``p_b = (b + 1/2) / (n + 2)``."""
    m = n + 2
    pb, pc = (b + 0.5) / m, (c + 0.5) / m
    d = pc - pb
    se = math.sqrt(max(0.0, pb + pc - d * d) / m)
    return max(-1.0, d - z * se), min(1.0, d + z * se)


@dataclass
class PairedResult:
    """Two runs on the same ``n`` images."""

    n: int
    correct_a: int
    correct_b: int
    b: int  # A right, B wrong
    c: int  # A wrong, B right
    p_value: float
    ci_low: float  # of accuracy_b - accuracy_a
    ci_high: float

    @property
    def accuracy_a(self) -> float:
        return self.correct_a / self.n if self.n else 0.0

    @property
    def accuracy_b(self) -> float:
        return self.correct_b / self.n if self.n else 0.0

    @property
    def difference(self) -> float:
        """accuracy_b - accuracy_a."""
        return (self.c - self.b) / self.n if self.n else 0.0

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "accuracy_a": self.accuracy_a,
            "accuracy_b": self.accuracy_b,
            "a_right_b_wrong": self.b,
            "a_wrong_b_right": self.c,
            "difference": self.difference,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
        }


def paired_test(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> PairedResult:
    """McNemar's exact test and the difference interval of two runs' per-image correctness
    (the same images, in the same order)."""
    a = np.asarray(a_correct, dtype=bool)
    b_ = np.asarray(b_correct, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError("both runs must be scored on the same images")
    n = int(a.size)
    b = int(np.count_nonzero(a & ~b_))
    c = int(np.count_nonzero(~a & b_))
    low, high = paired_difference_interval(b, c, n) if n else (0.0, 0.0)
    return PairedResult(n, int(a.sum()), int(b_.sum()), b, c, mcnemar_exact(b, c), low, high)


def format_p(p: float) -> str:
    """``p = 0.03``, ``p = 0.0042``, ``p < 0.001``: two significant digits, as papers write."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2f}" if p >= 0.01 else f"p = {p:.2g}"


def describe(a_name: str, b_name: str, result: PairedResult) -> str:
    """The comparison in words: which run is better by how many points with the interval and
    p-value, or that the two cannot be told apart on these images."""
    if result.n == 0:
        return f"{a_name} and {b_name} have no test images in common"
    if not result.significant:
        return (
            f"{a_name} and {b_name} are not distinguishable on these {result.n:,} images "
            f"({format_p(result.p_value)})"
        )
    better, worse, sign = (b_name, a_name, 1) if result.difference > 0 else (a_name, b_name, -1)
    points = 100 * abs(result.difference)
    low, high = sorted((100 * sign * result.ci_low, 100 * sign * result.ci_high))
    return (
        f"{better} is better than {worse} by {points:.1f} points (95% CI {low:.1f} to "
        f"{high:.1f}), {format_p(result.p_value)}"
    )
