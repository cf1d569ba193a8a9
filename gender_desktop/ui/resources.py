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


def stylesheet(dark: bool = False) -> str:
    """The app stylesheet; with ``dark``, the dark-theme additions too."""
    files = resources.files("gender_desktop.resources")
    text = files.joinpath("style.qss").read_text()
    if dark:
        check = resource_path("icons/check.svg").replace("\\", "/")
        text += files.joinpath("dark.qss").read_text().replace("@CHECK@", check)
    return text
