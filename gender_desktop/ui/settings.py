"""App settings (QSettings) in an INI file in the app's data folder, so tests and portable
installs (``GENDER_DESKTOP_HOME``) keep their own."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from gender_desktop import paths

MAX_RECENT = 10


def app_settings() -> QSettings:
    return QSettings(str(paths.data_dir() / "settings.ini"), QSettings.Format.IniFormat)


def recent_paths(settings: QSettings) -> list[str]:
    value = settings.value("recent", [])
    if isinstance(value, str):
        return [value]
    return [str(v) for v in (value or [])]


def remember_recent(settings: QSettings, path: str) -> list[str]:
    recent = [path] + [p for p in recent_paths(settings) if p != path]
    recent = recent[:MAX_RECENT]
    settings.setValue("recent", recent)
    return recent


def forget_recent(settings: QSettings, path: str) -> list[str]:
    recent = [p for p in recent_paths(settings) if p != path]
    settings.setValue("recent", recent)
    return recent
