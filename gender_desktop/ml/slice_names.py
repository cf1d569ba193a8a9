"""How slices are named, once, for every place that shows one: the Evaluate panel's Slices tab,
``gender-desktop evaluate``, evaluation.json and the HTML report.

Dataset columns are identifiers (CelebA's ``5_o_Clock_Shadow``, ``Wearing_Lipstick``); people
read "5 o'Clock Shadow". The names are made readable when the slices are computed
(:func:`gender_desktop.ml.metrics.slice_masks` builds them from here), so the CLI and the app
print the same words; :func:`slice_title` also reads names saved by older versions, which kept
the underscores.
"""

from __future__ import annotations

# Columns whose readable name is not just "underscores to spaces".
ATTRIBUTE_TITLES = {"5_o_Clock_Shadow": "5 o'Clock Shadow"}

AGE_BANDS = (
    (0, 17, "age 0-17"),
    (18, 29, "age 18-29"),
    (30, 44, "age 30-44"),
    (45, 59, "age 45-59"),
    (60, 200, "age 60+"),
)


def attribute_title(column: str) -> str:
    """``Wearing_Lipstick`` -> ``Wearing Lipstick``, ``5_o_Clock_Shadow`` -> ``5 o'Clock Shadow``."""
    return ATTRIBUTE_TITLES.get(column, column.replace("_", " "))


def flag_slice(column: str, present: bool) -> str:
    """A binary attribute's two slices: ``Eyeglasses`` and ``no Eyeglasses``."""
    title = attribute_title(column)
    return title if present else f"no {title}"


def value_slice(column: str, value: object) -> str:
    """One value of a categorical attribute: ``race = White``."""
    return f"{attribute_title(column)} = {value}"


def slice_title(name: str) -> str:
    """A slice name as shown, also for names saved before they were made readable
    (``no Arched_Eyebrows`` -> ``no Arched Eyebrows``); a readable name is returned as is."""
    text = name.replace("_", " ")
    for column, title in ATTRIBUTE_TITLES.items():
        text = text.replace(column.replace("_", " "), title)
    return text
