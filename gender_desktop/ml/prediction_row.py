"""One prediction row, torch-free: built by the engine, rebuilt by the GUI and the CLI.

It lives apart from ``ml/predictor.py`` (which imports torch) because the GUI process must never
import torch; the engine child sends rows as ``to_message()`` dicts and the Predict panel turns
them back into rows with ``from_message``. The one CSV form of prediction rows lives here too, so
``gender-desktop predict`` and the Predict panel's export write the same columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gender_desktop import csvsafe

BASE_COLUMNS = ("path", "p_male", "prediction", "error")
FACE_COLUMNS = ("framed", "face", "box")
DATASET_COLUMNS = ("image_id", "split", "label", "wrong")
TTA_COLUMNS = ("tta",)


@dataclass
class PredictionRow:
    """One prediction: one image, or one face of a photo."""

    path: str
    p_male: float | None = None  # rounded to 6 digits, as written to CSV files
    error: str = ""
    face: int | None = None  # which face of the photo (0 = largest) when faces were framed
    faces: int | None = None  # faces found in the photo (0: none, then the whole image or error)
    box: tuple[int, int, int, int] | None = None  # left, top, width, height in the photo
    image_id: str | None = None  # set when the file is an image of the open dataset
    split: str | None = None
    label: str | None = None  # the dataset's label (edits applied)
    framing: str = "off"  # the framing setting it was predicted with (ml/config.FRAMING_MODES)
    framed: str = ""  # how the model's image was made: ml/framing.AS_IS, REFRAMED, "face 2 of 3"…
    tta: str = "none"  # the test-time augmentation it was predicted with (ml/config.TTA_MODES)
    preview: np.ndarray | None = field(default=None, repr=False)  # what the model saw, small

    @classmethod
    def from_message(cls, message: dict[str, Any], keep_preview: bool = False) -> PredictionRow:
        """The row of a ``rows`` reply. Unknown keys (a newer engine) are ignored; the preview
        is dropped unless asked for (the Predict panel keeps it as a QImage instead)."""
        known = cls.__dataclass_fields__
        values = {k: v for k, v in message.items() if k in known}
        if not keep_preview:
            values.pop("preview", None)
        if values.get("box") is not None:
            values["box"] = tuple(int(v) for v in values["box"])
        return cls(**values)

    @property
    def prediction(self) -> str:
        if self.p_male is None:
            return ""
        return "Male" if self.p_male >= 0.5 else "Female"

    @property
    def probability(self) -> float | None:
        """The probability of the predicted class (p_male for Male, 1 - p_male for Female)."""
        if self.p_male is None:
            return None
        return self.p_male if self.p_male >= 0.5 else 1.0 - self.p_male

    @property
    def wrong(self) -> bool:
        return self.label is not None and self.p_male is not None and self.prediction != self.label

    def record(self) -> dict[str, Any]:
        """The CSV / JSON row: path, p_male, prediction, error, then the optional fields."""
        out: dict[str, Any] = {
            "path": self.path,
            "p_male": self.p_male,
            "prediction": self.prediction,
            "error": self.error,
        }
        if self.framing != "off":  # faces were searched for: these say what was found
            out["framed"] = self.framed
            out["face"] = self.face
            out["box"] = " ".join(str(v) for v in self.box) if self.box else ""
        out["tta"] = self.tta
        if self.label is not None:
            out.update(image_id=self.image_id, split=self.split, label=self.label, wrong=self.wrong)
        return out

    def to_message(self) -> dict[str, Any]:
        """Plain values for a process queue (the preview travels as an array)."""
        return asdict(self)


def csv_columns(faces: bool, dataset: bool = False, tta: bool = False) -> list[str]:
    """The one column rule of a prediction CSV: path, p_male, prediction, error; then framed,
    face and box when faces were searched for (on every row, so the file's shape follows the
    request, not what was found); then image_id, split, label and wrong when the files are
    images of the open dataset; then tta when a test-time augmentation was asked for."""
    return [
        *BASE_COLUMNS,
        *(FACE_COLUMNS if faces else ()),
        *(DATASET_COLUMNS if dataset else ()),
        *(TTA_COLUMNS if tta else ()),
    ]


def columns_for(rows: Sequence[PredictionRow]) -> list[str]:
    """:func:`csv_columns` for rows whose request is not known any more (the Predict panel's
    table gathers several): the face columns when any row was searched for faces."""
    return csv_columns(
        any(row.framing != "off" for row in rows),  # faces are searched for only then
        any(row.label is not None for row in rows),
        any(row.tta != "none" for row in rows),
    )


def prediction_csv(rows: Sequence[PredictionRow], columns: Sequence[str] | None = None) -> bytes:
    """The rows as CSV bytes (text cells spreadsheet-safe, see :mod:`gender_desktop.csvsafe`)."""
    return csvsafe.rows_csv(columns or columns_for(rows), (row.record() for row in rows))
