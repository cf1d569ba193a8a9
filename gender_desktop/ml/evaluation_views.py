"""What the Evaluate panel shows of a saved evaluation at a decision threshold, without Qt or
torch: the numbers, and which images a gallery lists in which order.

The panel used to compute these next to its widgets; here they can be tested on plain arrays and
read by anything that shows an evaluation. A *view key* names a gallery list:

- a confusion cell or the misclassified images (:data:`VIEWS`, ``"male_as_female"`` ...),
- ``"label_errors"``: the out-of-sample images the model calls the other class,
- ``"slice:<name>"``: the images of one slice (a row of the Slices tab).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gender_desktop.ml import metrics
from gender_desktop.ml.results import SavedEvaluation, label_vector

VIEWS = {
    "misclassified": "Misclassified (most confident first)",
    "male_as_female": "Male predicted Female",
    "female_as_male": "Female predicted Male",
    "male_correct": "Male predicted Male",
    "female_correct": "Female predicted Female",
    "label_errors": "Suspected label errors (out-of-sample, ranked)",
}
LABEL_ERRORS = "label_errors"
DEFAULT_VIEW = "misclassified"
SLICE = "slice:"


def slice_key(name: str) -> str:
    """The view key of the slice called ``name``."""
    return SLICE + name


def confident_first(positions: np.ndarray, p_male: np.ndarray) -> np.ndarray:
    """``positions`` ordered by how sure the model is (|p - 0.5|, largest first); ties keep
    position order, so a list never reshuffles between two equal calls."""
    positions = np.asarray(positions, dtype=np.int64)
    confidence = np.abs(np.asarray(p_male)[positions] - 0.5)
    return positions[np.lexsort((positions, -confidence))]


def cell_positions(male: np.ndarray, p_male: np.ndarray, threshold: float, key: str) -> np.ndarray:
    """Positions of the images in a confusion cell (or all misclassified ones), most confident
    first: the images a user should look at first are the ones the model is surest about."""
    male = np.asarray(male, dtype=bool)
    predicted = np.asarray(p_male) >= threshold
    masks = {
        "misclassified": male != predicted,
        "male_as_female": male & ~predicted,
        "female_as_male": ~male & predicted,
        "male_correct": male & predicted,
        "female_correct": ~male & ~predicted,
    }
    if key not in masks:
        raise KeyError(f"not a confusion cell: {key!r}")
    return confident_first(np.flatnonzero(masks[key]), p_male)


def slice_positions(
    mask: np.ndarray, male: np.ndarray, p_male: np.ndarray, threshold: float
) -> np.ndarray:
    """Positions of a slice's images: its errors first (most confident first, as the
    misclassified list), then the images it gets right (most confident first)."""
    chosen = np.flatnonzero(np.asarray(mask, dtype=bool))
    p = np.asarray(p_male)
    wrong = (p[chosen] >= threshold) != np.asarray(male, dtype=bool)[chosen]
    return np.concatenate(
        [confident_first(chosen[wrong], p), confident_first(chosen[~wrong], p)]
    ).astype(np.int64)


def still_suspect(p_male: np.ndarray, rows: np.ndarray, male_now: np.ndarray | None) -> np.ndarray:
    """Which suspected label errors stay on the list: those relabeled since to what the model
    says are done with (the saved labels are as evaluated; ``male_now`` has today's labels,
    indexed by dataset row; ``rows`` is -1 for an image that is not in the open dataset)."""
    p_male, rows = np.asarray(p_male), np.asarray(rows, dtype=np.int64)
    keep = np.ones(len(rows), dtype=bool)
    if male_now is None:
        return keep
    known = rows >= 0
    keep[known] = np.asarray(male_now)[rows[known]].astype(bool) != (p_male[known] >= 0.5)
    return keep


@dataclass(frozen=True)
class Scores:
    """The numbers at one threshold: what the cards, the confusion matrix and the Slices tab
    show."""

    threshold: float
    metrics: dict[str, Any]
    slices: list[dict[str, Any]]
    attributes: int  # how many attributes the slices come from


class EvaluationView:
    """One saved evaluation, re-scored at any threshold and listed for the galleries."""

    def __init__(self, saved: SavedEvaluation) -> None:
        self.saved = saved
        self.male = label_vector(saved.part).astype(bool)
        self.p_male = saved.part["p_male"].to_numpy(dtype=np.float64)

    @property
    def evaluation(self) -> dict[str, Any]:
        return self.saved.evaluation

    def scores(self, threshold: float) -> Scores:
        """Every number at ``threshold`` (one matrix product for all slices)."""
        index = self.saved.slices
        return Scores(
            threshold,
            metrics.binary_metrics(self.male, self.p_male, threshold),
            metrics.slice_table(None, self.male, self.p_male, threshold, index),
            len(set(index.attributes)),
        )

    def has_view(self, key: str) -> bool:
        """Whether ``key`` names a list of this evaluation (a slice may be another's)."""
        if key.startswith(SLICE):
            return key[len(SLICE) :] in self.saved.slices.names
        return key in VIEWS

    def positions(self, key: str, threshold: float) -> np.ndarray:
        """Positions in the evaluated split that the gallery ``key`` lists, in display order
        (not for ``label_errors``, which lists the suspects table: see :meth:`suspects`)."""
        if key.startswith(SLICE):
            name = key[len(SLICE) :]
            index = self.saved.slices
            if name not in index.names:
                raise KeyError(f"no slice called {name!r} in this evaluation")
            mask = index.masks[index.names.index(name)]
            return slice_positions(mask, self.male, self.p_male, threshold)
        return cell_positions(self.male, self.p_male, threshold, key)

    def suspects(self) -> tuple[np.ndarray, np.ndarray]:
        """Image ids and p(Male) of the suspected label errors, most suspicious first."""
        table = self.saved.suspects
        if not len(table):
            return np.empty(0, dtype=object), np.empty(0)
        return table["image_id"].astype(str).to_numpy(), table["p_male"].to_numpy()

    def suspects_cover_train(self) -> bool:
        """Whether the train split's k-fold scores are in the suspects (Check the Train Split)."""
        table = self.saved.suspects
        return bool(len(table)) and bool((table["split"] == "train").any())
