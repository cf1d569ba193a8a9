"""What a layout reader hands back before images are located and splits assigned."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from gender_desktop.data.sources import Source

SPLITS = ("train", "val", "test")
PARTITION_CODES = {0: "train", 1: "val", 2: "test"}


@dataclass
class Parsed:
    """A layout reader's result.

    ``table`` has ``image_id``, ``Male`` (1/0) and either ``path`` (exact relative path inside
    ``images``) or ``name`` (a file name still to be located), plus optional ``split`` and ``fold``
    and every other attribute the source provides.
    """

    layout: str
    family: str
    table: pd.DataFrame
    annotation: str | None = None
    images: Source | None = None
    image_candidates: list[Source] = field(default_factory=list)
    split_origin: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Containers that could hold images but cannot be read (a damaged zip): named when no
    # image is found, so the message says where they probably were.
    unusable: list[str] = field(default_factory=list)
    # The ids in the order the dataset's fingerprint was first defined on, where the table
    # is shown in another order (UTKFace's natural order): the fingerprint keys the sidecar
    # (label edits, splits), so it must not change when only the display order does.
    fingerprint_ids: pd.Series | None = None
