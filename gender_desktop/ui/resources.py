"""Icons and the stylesheet shipped in ``gender_desktop.resources`` (the top-level resources/)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from PySide6.QtGui import QIcon


def resource_path(name: str) -> str:
    return str(resources.files("gender_desktop.resources").joinpath(name))


@cache
def icon(name: str) -> QIcon:
    return QIcon(resource_path(f"icons/{name}.svg"))


def stylesheet() -> str:
    return resources.files("gender_desktop.resources").joinpath("style.qss").read_text()
