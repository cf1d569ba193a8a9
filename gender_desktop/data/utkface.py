"""UTKFace: labels live in file names, ``[age]_[gender]_[race]_[date&time].jpg`` (the aligned
version appends ``.chip.jpg``). gender 0 = male, 1 = female.

A few real files break the pattern (a field left out, a stray space); those are left out and the
problems list says which field is missing or wrong, so a user can fix the name."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from gender_desktop.data.parsed import Parsed
from gender_desktop.data.sources import Source

RACES = ("White", "Black", "Asian", "Indian", "Others")
AGE_BANDS = (0, 18, 30, 45, 60, 200)
AGE_LABELS = ("0-17", "18-29", "30-44", "45-59", "60+")
FIELDS = ("age", "gender", "race", "date")
_PATTERN = re.compile(r"^\s*\d+\s*_")
_DIGITS = re.compile(r"(\d+)")
_DATE_DIGITS = 8  # the date&time field is yyyymmddHHMMSSfff: never shorter than a date


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders the numbers inside a name by value: ``9_…`` < ``10_…`` < ``100_…``
    (a plain string sort puts ``100_…`` before ``10_…``, which is how UTKFace names compare)."""
    parts = _DIGITS.split(name)
    return tuple((1, int(p)) if i % 2 else (0, p.lower()) for i, p in enumerate(parts))


def looks_like_utkface(image_files: list[str]) -> bool:
    images = [f.rsplit("/", 1)[-1] for f in image_files[:500]]
    if not images:
        return False
    hits = sum(1 for name in images[:500] if _PATTERN.match(name))
    return hits >= max(1, int(0.8 * min(len(images), 500)))


def _stem(name: str) -> str:
    """The labelled part of a name: everything before its first image suffix (``.chip.jpg``
    and a stray space before ``.jpg`` included)."""
    lower = name.lower()
    cuts = [i for i in (lower.find(".jpg"), lower.find(".png")) if i >= 0]
    return name[: min(cuts)] if cuts else name


def _missing_field(fields: list[str]) -> str:
    """Which one of age_gender_race_date a three-field name lacks, told by the fields' shapes:
    the date is long, the race 0-4, the gender 0 or 1 (a 0 or 1 before the date is read as the
    gender, the order the dataset writes them in)."""
    if not (fields[-1].isdigit() and len(fields[-1]) >= _DATE_DIGITS):
        return "date"
    if not (fields[0].isdigit() and len(fields[0]) <= 3):
        return "age"
    return "race" if fields[1] in ("0", "1") else "gender"


def _wrong_field(age: str, gender: str, race: str) -> str | None:
    """Why the age, gender or race of a four-field name cannot be used, or None."""
    for field, value in (("age", age), ("gender", gender), ("race", race)):
        if not value:
            return f"the {field} field is empty"
    if not age.isdigit():
        return f"the age field is {age!r}, not a whole number"
    if gender not in ("0", "1"):
        return f"the gender field is {gender!r}, not 0 (male) or 1 (female)"
    if not (race.isdigit() and int(race) < len(RACES)):
        return f"the race field is {race!r}, not 0-{len(RACES) - 1}"
    return None


def parse_name(name: str) -> tuple[int, int, int] | str:
    """(age, male, race) from a UTKFace file name, or the reason it cannot be trusted, naming
    the field that is missing or wrong."""
    fields = [f.strip() for f in _stem(name).split("_")]
    if len(fields) == 3:
        missing = _missing_field(fields)
        return (
            f"the {missing} field is missing (expected age_gender_race_date): left out, as "
            "its gender is uncertain"
        )
    if len(fields) != 4:
        return f"{len(fields)} fields, expected 4 (age_gender_race_date): left out"
    age, gender, race, _date = fields
    wrong = _wrong_field(age, gender, race)
    if wrong is not None:
        return f"{wrong}: left out"
    return int(age), 1 - int(gender), int(race)


def read_utkface(source: Source) -> Parsed:
    """Rows in natural file-name order (10 before 100); image ids are the full relative names,
    ``.chip.jpg`` included.

    Files are read, and duplicates resolved, in the source's own order as before natural
    sorting existed (the first copy of a face wins, as it always has), and the fingerprint is
    taken in that order: a dataset opened before keeps its label edits and its split."""
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
    fingerprint_ids = table["image_id"].copy()
    order = sorted(range(len(table)), key=lambda i: natural_key(rows[i][0]))
    table = table.iloc[order].reset_index(drop=True)
    return Parsed(
        layout="utkface",
        family="utkface",
        table=table,
        annotation=None,
        images=source,
        skipped=skipped,
        fingerprint_ids=fingerprint_ids,
    )
