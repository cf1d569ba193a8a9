"""One prediction row, torch-free: built by the engine, rebuilt by the GUI and the CLI.

It lives apart from ``ml/predictor.py`` (which imports torch) because the GUI process must never
import torch; the engine child sends rows as ``to_message()`` dicts and the Predict panel turns
them back into rows with ``from_message``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class PredictionRow:
    """One prediction: one image, or one face of a photo."""

    path: str
    p_male: float | None = None  # rounded to 6 digits, as written to CSV files
    error: str = ""
    face: int | None = None  # which face of the photo (0 = largest) when faces are cropped
    faces: int | None = None  # faces found in the photo
    box: tuple[int, int, int, int] | None = None  # left, top, width, height in the photo
    image_id: str | None = None  # set when the file is an image of the open dataset
    split: str | None = None
    label: str | None = None  # the dataset's label (edits applied)
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
        if self.face is not None:
            out["face"] = self.face
            out["box"] = " ".join(str(v) for v in self.box) if self.box else ""
        if self.label is not None:
            out.update(image_id=self.image_id, split=self.split, label=self.label, wrong=self.wrong)
        return out

    def to_message(self) -> dict[str, Any]:
        """Plain values for a process queue (the preview travels as an array)."""
        return asdict(self)
