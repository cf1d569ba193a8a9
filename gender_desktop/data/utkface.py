"""UTKFace: labels live in file names, ``[age]_[gender]_[race]_[date&time].jpg`` (the aligned
version appends ``.chip.jpg``). gender 0 = male, 1 = female."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from gender_desktop.data.parsed import Parsed
from gender_desktop.data.sources import Source

RACES = ("White", "Black", "Asian", "Indian", "Others")
AGE_BANDS = (0, 18, 30, 45, 60, 200)
AGE_LABELS = ("0-17", "18-29", "30-44", "45-59", "60+")
_PATTERN = re.compile(r"^\s*\d+\s*_")


def looks_like_utkface(image_files: list[str]) -> bool:
    images = [f.rsplit("/", 1)[-1] for f in image_files[:500]]
    if not images:
        return False
    hits = sum(1 for name in images[:500] if _PATTERN.match(name))
    return hits >= max(1, int(0.8 * min(len(images), 500)))


def parse_name(name: str) -> tuple[int, int, int] | str:
    """(age, male, race) from a UTKFace file name, or the reason it cannot be trusted."""
    stem = name.split(".jpg")[0].split(".png")[0]
    fields = [f.strip() for f in stem.split("_")]
    if len(fields) != 4:
        return f"expected 4 fields age_gender_race_date, found {len(fields)}: gender is ambiguous"
    age, gender, race, _date = fields
    if not (age.isdigit() and gender in ("0", "1") and race.isdigit() and int(race) < len(RACES)):
        return f"unexpected fields {fields[:3]}: gender is ambiguous"
    return int(age), 1 - int(gender), int(race)


def read_utkface(source: Source) -> Parsed:
    rows: list[tuple[str, str, int, int, str]] = []
    skipped: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for rel in source.image_files():
        name = rel.rsplit("/", 1)[-1]
        if name in seen:  # e.g. the same face in UTKFace/ and crop_part1/
            skipped.append((source.display(rel), f"the same face as {seen[name]}"))
            continue
        seen[name] = rel
        parsed = parse_name(name)
        if isinstance(parsed, str):
            skipped.append((source.display(rel), parsed))
            continue
        age, male, race = parsed
        rows.append((rel, rel, male, age, RACES[race]))
    table = pd.DataFrame(rows, columns=["image_id", "path", "Male", "age", "race"])
    table["Male"] = table["Male"].astype(np.int8)
    table["age_band"] = pd.cut(table["age"], bins=AGE_BANDS, right=False, labels=AGE_LABELS).astype(
        object
    )
    return Parsed(
        layout="utkface",
        family="utkface",
        table=table,
        annotation=None,
        images=source,
        skipped=skipped,
    )
