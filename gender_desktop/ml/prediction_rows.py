"""Many prediction rows at once, torch- and Qt-free: what the Predict panel filters, orders,
counts and says about them.

These rules used to sit in the panel's widgets and model; here they are plain functions over
:class:`~gender_desktop.ml.prediction_row.PredictionRow` lists and numpy arrays, so they are
tested without a window and read the same wherever rows are shown. In particular the one
meaning of a flagged result: the file is an image of the open dataset and *the model disagrees
with its label* (which of the two is wrong is for the person to judge: often the label).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np

from gender_desktop.durations import duration_text
from gender_desktop.ml.config import FRAMING_LABELS, TTA_LABELS
from gender_desktop.ml.framing import AS_IS, REFRAMED, WHOLE_NO_FACE, face_of
from gender_desktop.ml.prediction_row import PredictionRow

UNCERTAIN = (0.4, 0.6)  # p_male in this band: the model is close to a coin toss
DISAGREES = "the model disagrees with the label"
AGREES = "the model agrees with the label"
NO_IMAGES = (
    "No images found: folders are searched for .jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff "
    "and .gif files"
)


class Show(IntEnum):
    """What the results filter lets through."""

    ALL = 0
    MALE = 1
    FEMALE = 2
    ERRORS = 3
    WRONG = 4  # the model disagrees with the dataset label
    UNCERTAIN = 5


class Order(IntEnum):
    INPUT = 0
    LEAST_CONFIDENT = 1
    MOST_CONFIDENT = 2


def plural(count: int, word: str, many: str | None = None) -> str:
    """ "1 error", "1,234 errors": counts read as sentences in the summary line."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def setting_text(framing: str, tta: str = "none") -> str:
    """How a request's settings are named on screen, in the Predict panel's own words:
    "Framing Auto", "Framing Off · TTA Flip"."""
    text = f"Framing {FRAMING_LABELS.get(framing, framing)}"
    if tta != "none":
        text += f" · TTA {TTA_LABELS.get(tta, tta)}"
    return text


def row_setting(row: PredictionRow) -> tuple[str, str]:
    """The (framing, tta) a row was predicted with: rows made otherwise than the panel now
    asks are stale, and their files are predicted again."""
    return (row.framing, row.tta)


@dataclass
class Counts:
    """Totals over every row, kept up to date as batches arrive (the header and the filter
    show them; recounting 10,000 rows per batch would not be free)."""

    rows: int = 0
    male: int = 0
    female: int = 0
    errors: int = 0
    wrong: int = 0
    labelled: int = 0
    uncertain: int = 0

    def add(self, row: PredictionRow, sign: int = 1) -> None:
        self.rows += sign
        if row.p_male is None:
            self.errors += sign
            return
        if row.p_male >= 0.5:
            self.male += sign
        else:
            self.female += sign
        if UNCERTAIN[0] <= row.p_male <= UNCERTAIN[1]:
            self.uncertain += sign
        if row.label is not None:
            self.labelled += sign
            self.wrong += sign * int(row.wrong)

    @classmethod
    def of(cls, rows: Iterable[PredictionRow]) -> Counts:
        counts = cls()
        for row in rows:
            counts.add(row)
        return counts

    def filter_texts(self) -> dict[Show, str]:
        """The filter's entries with their counts (the words the legend uses too)."""
        return {
            Show.ALL: f"All ({self.rows:,})",
            Show.MALE: f"Male ({self.male:,})",
            Show.FEMALE: f"Female ({self.female:,})",
            Show.ERRORS: f"Errors ({self.errors:,})",
            Show.WRONG: f"Model disagrees with label ({self.wrong:,})",
            Show.UNCERTAIN: f"Uncertain, 40–60 % ({self.uncertain:,})",
        }

    def line(self) -> str:
        """ "12 results · 1 error · the model disagrees with 2 of 5 labels"."""
        parts = [plural(self.rows, "result")] if self.rows else []
        if self.errors:
            parts.append(plural(self.errors, "error"))
        if self.labelled:
            parts.append(
                f"the model disagrees with {self.wrong:,} of {plural(self.labelled, 'label')}"
            )
        return " · ".join(parts)


def show_mask(p_male: np.ndarray, wrong: np.ndarray, show: Show) -> np.ndarray:
    """Which rows ``show`` lets through; ``p_male`` is NaN for rows that could not be predicted."""
    ok = ~np.isnan(p_male)
    with np.errstate(invalid="ignore"):
        if show == Show.MALE:
            return ok & (p_male >= 0.5)
        if show == Show.FEMALE:
            return ok & (p_male < 0.5)
        if show == Show.UNCERTAIN:
            return ok & (p_male >= UNCERTAIN[0]) & (p_male <= UNCERTAIN[1])
    if show == Show.ERRORS:
        return ~ok
    if show == Show.WRONG:
        return np.asarray(wrong, dtype=bool)
    return np.ones(len(p_male), dtype=bool)


def sort_keys(p_male: np.ndarray, positions: np.ndarray, order: Order) -> np.ndarray:
    """Ascending keys for ``positions`` (``p_male`` is theirs); errors go last in both
    confidence orders, ties keep the arrival order (the caller sorts stably)."""
    if order == Order.INPUT:
        return positions.astype(np.float64)
    confidence = np.maximum(p_male, 1.0 - p_male)
    keys = confidence if order == Order.LEAST_CONFIDENT else -confidence
    return np.where(np.isnan(p_male), 2.0, keys)


def stale_positions(rows: Sequence[PredictionRow], setting: tuple[str, str]) -> list[int]:
    """Rows made with other settings than ``setting``, a (framing, tta) pair."""
    return [k for k, row in enumerate(rows) if row_setting(row) != setting]


def files_of(rows: Iterable[PredictionRow]) -> list[str]:
    """The files behind ``rows``, each once, in arrival order (a photo has a row per face)."""
    return list(dict.fromkeys(row.path for row in rows))


def is_file_start(row: PredictionRow) -> bool:
    """True for one row per file: an image, or the first face of a photo."""
    return row.face is None or row.face == 0


@dataclass
class JobTally:
    """What one prediction request has brought so far (its summary line counts these)."""

    files_done: int = 0
    male: int = 0
    female: int = 0
    wrong: int = 0
    faces: int = 0  # rows predicted on a found face
    no_face: int = 0  # photos in which no face was found (predicted whole, or an error)

    def add(self, rows: Iterable[PredictionRow]) -> None:
        for row in rows:
            self.files_done += is_file_start(row)
            self.no_face += row.faces == 0
            if row.p_male is not None:
                self.faces += bool(row.faces)
                if row.p_male >= 0.5:
                    self.male += 1
                else:
                    self.female += 1
                self.wrong += int(row.wrong)


def job_summary(
    result: dict[str, Any], tally: JobTally, framing: str, seconds: float
) -> list[tuple[str, bool]] | None:
    """The line under the results after a request, as (text, alarming) parts; None when no
    image was found at all (then :data:`NO_IMAGES` is the message)."""
    files = int(result.get("files", 0))
    errors = int(result.get("errors", 0))
    seconds = float(result.get("seconds", seconds))
    if result.get("cancelled"):
        head = f"Cancelled after {tally.files_done:,} of {plural(files, 'image')}"
    elif files == 0:
        return None
    elif framing != "off" and tally.faces:
        faces = plural(tally.faces, "face")
        head = f"{plural(files, 'image')} · {faces} in {duration_text(seconds)}"
    else:
        head = f"{plural(files, 'image')} in {duration_text(seconds)}"
    parts = [(head, False)]
    if framing != "off" and tally.no_face:
        whole = " (predicted whole)" if framing == "auto" else ""
        parts.append((f"no face found in {plural(tally.no_face, 'image')}{whole}", False))
    if tally.male or tally.female:
        parts.append((f"{tally.male:,} male · {tally.female:,} female", False))
    if errors:
        parts.append((plural(errors, "error"), True))
    if tally.wrong:
        parts.append((f"{DISAGREES} of {plural(tally.wrong, 'image')}", True))
    return parts


def face_text(row: PredictionRow) -> str:
    """ "face 2 of 3" for one of several faces, "" otherwise (``framed_text`` says the rest)."""
    if row.face is None or not row.faces or row.faces < 2:
        return ""
    return face_of(row.face + 1, row.faces)


def framed_text(row: PredictionRow) -> str:
    """How the model's picture was made, in a sentence for the detail pane and tooltips; ""
    for a row without a picture (an error)."""
    if not row.framed:
        return ""
    if row.framed == AS_IS:
        if row.framing == "off":
            return "as is: the whole image (framing off)"
        if row.box is None:  # not searched: the size every training image has
            return "as is: the size of the run's training images, so framed like them"
        return "as is: the face already sits as in the run's training images"
    if row.framed == REFRAMED:
        return "reframed: the face placed, scaled and levelled as in the run's training images"
    if row.framed == WHOLE_NO_FACE:
        return "the whole image: no face was found in it"
    return f"{row.framed}: framed as in the run's training images"


def card_framing_text(row: PredictionRow) -> str:
    """How the picture was made in the few words a card has room for: "reframed · 161×161",
    "framed · 157×157" (one of several faces: the card's pill says which), "as is",
    "no face: whole image"; "" when framing was off or nothing was predicted."""
    if not row.framed or row.framing == "off":
        return ""
    if row.framed == WHOLE_NO_FACE:
        return "no face: whole image"
    text = "framed" if row.framed.startswith("face ") else row.framed
    if row.box and row.framed != AS_IS:
        text += f" · {row.box[2]}×{row.box[3]}"
    return text


def stale_text(row: PredictionRow, setting: tuple[str, str]) -> str:
    """The card's short note for a row made with other settings than ``setting``: the first
    that differs ("framing off", "TTA flip", "no TTA"); "" when none does."""
    if row.framing != setting[0]:
        return f"framing {FRAMING_LABELS.get(row.framing, row.framing).lower()}"
    if row.tta != setting[1]:
        return "no TTA" if row.tta == "none" else f"TTA {TTA_LABELS.get(row.tta, row.tta).lower()}"
    return ""


def summary_text(row: PredictionRow) -> str:
    """One line a screen reader or a tooltip can say: the prediction or the error."""
    if row.p_male is None:
        return f"error: {row.error}"
    text = f"{row.prediction} {row.probability:.1%}"
    if row.label is not None:
        text += f" · label: {row.label} ({row.split} split)"
        if row.wrong:
            text += f" · {DISAGREES}"
    return text


def tooltip(row: PredictionRow) -> str:
    """Everything known about a row, one fact a line."""
    lines = [row.path]
    if row.framed:
        how = f"Framed: {row.framed}"
        if row.box:
            left, top, width, height = row.box
            how += f" · face box {width}×{height} at ({left}, {top})"
        lines.append(how)
    if row.p_male is None:
        lines.append(f"Cannot predict: {row.error}")
    else:
        lines.append(f"p(male) = {row.p_male:.4f} · p(female) = {1.0 - row.p_male:.4f}")
    if row.label is not None:
        verdict = DISAGREES if row.wrong else AGREES
        lines.append(f"Dataset: {row.image_id}, label {row.label}, {row.split} split ({verdict})")
    lines.append(f"Predicted with {setting_text(row.framing, row.tta)}")
    return "\n".join(lines)


def name_of(row: PredictionRow) -> str:
    return Path(row.path).name
