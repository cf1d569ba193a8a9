"""Render the README screenshots from the real main window (offscreen, no display needed).

    python docs/make_screenshots.py [--out docs/images]

Opens the built-in demo dataset and a generated CelebA-layout dataset, selects an image, and
saves what the window shows. Settings and data go to a temporary app home, never the user's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images")
    parser.add_argument("--theme", default="light")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["GENDER_DESKTOP_HOME"] = tempfile.mkdtemp(prefix="gd-shots-")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import builders  # the tests' dataset builders: the same layouts users have

    from gender_desktop.ui.app import create_app
    from gender_desktop.ui.main_window import DEMO, MainWindow
    from gender_desktop.ui.theme import apply_theme

    app = create_app([])
    apply_theme(app, args.theme)
    args.out.mkdir(parents=True, exist_ok=True)

    def shoot(target: str, name: str, select: int, filters=None) -> None:
        window = MainWindow()
        window.resize(1400, 860)
        window.show()
        done: list[object] = []
        window.verified.connect(lambda: done.append(1))
        window.open_path(target)
        end = time.time() + 120
        while not done and time.time() < end:
            app.processEvents()
        if filters:
            filters(window.browser.filters)
        window.browser.select_rows([select])
        end = time.time() + 3
        while time.time() < end:
            app.processEvents()
        path = args.out / name
        window.grab().save(str(path))
        print(path)
        window.close()

    shoot(DEMO, "browser-demo.png", select=6)
    root = Path(tempfile.mkdtemp()) / "celeba"
    builders.celeba_official(root, 240, layout="release")
    shoot(
        str(root),
        "browser-celeba-layout.png",
        select=220,
        filters=lambda f: f.split.setCurrentText("test"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
