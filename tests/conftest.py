"""Shared test setup: headless Qt, an isolated app home per test, and dataset builders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def app_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own app data/cache folders, so nothing leaks between tests or into
    the real user profile."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("GENDER_DESKTOP_HOME", str(home))
    # Tests never touch the network: the weights probe answers "offline" at once (tests of
    # the online path unset it and serve or fake the answer themselves).
    monkeypatch.setenv("GENDER_DESKTOP_OFFLINE", "1")
    return home
