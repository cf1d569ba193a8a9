"""Browser at full CelebA scale: 202,599 entries in the official layout (tiny images).

Measures, on this machine:
- parse: reading list_attr_celeba.txt alone, and the whole import (parse, locate images, split);
- first grid: from asking the window to open the dataset to the grid painted with its first
  screen of thumbnails;
- filter change: from a filter change to the grid repainted (several filters, worst reported);
- scrolling: the longest event-loop gap while paging through the grid top to bottom;
- peak memory (max RSS of the process).

Run: python benchmarks/browser_scale.py [--root /tmp/celeba-202k] [--json]
A Qt platform is needed; it sets QT_QPA_PLATFORM=offscreen unless a DISPLAY is given.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gender_desktop.data.celeba import CELEBA_ATTRIBUTES

N_IMAGES = 202_599
ATTRS = CELEBA_ATTRIBUTES


def build(root: Path, n: int) -> None:
    """Write the annotation files and ``n`` tiny JPEGs, unless they are already there."""
    import numpy as np
    from PIL import Image

    marker = root / ".complete"
    if marker.exists() and marker.read_text() == str(n):
        return
    images = root / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    values = np.where(rng.random((n, len(ATTRS))) < 0.3, 1, -1)
    palette = []
    for k in range(16):
        buf = io.BytesIO()
        Image.new("RGB", (36, 44), (16 * k, 255 - 16 * k, 90)).save(buf, "JPEG")
        palette.append(buf.getvalue())
    lines = [str(n), " ".join(ATTRS) + " "]
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        (images / name).write_bytes(palette[i % 16])
        lines.append(name + "".join(f" {v:2d}" for v in values[i]))
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    parts = np.where(np.arange(n) < 162_770, 0, np.where(np.arange(n) < 182_637, 1, 2))
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{i + 1:06d}.jpg {p}\n" for i, p in enumerate(parts))
    )
    marker.write_text(str(n))


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def measure(root: Path) -> dict[str, object]:
    from gender_desktop.data.celeba import read_official
    from gender_desktop.data.dataset import open_dataset
    from gender_desktop.data.sources import FolderSource

    src = FolderSource(root)
    t = time.perf_counter()
    read_official(src, "list_attr_celeba.txt", [])
    parse_s = time.perf_counter() - t
    t = time.perf_counter()
    dataset = open_dataset(root)
    import_s = time.perf_counter() - t
    assert len(dataset) == N_IMAGES or len(dataset) > 0

    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from gender_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    browser = window.browser

    def wait(condition, timeout_s: float = 120.0) -> None:
        end = time.perf_counter() + timeout_s
        while not condition():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
            if time.perf_counter() > end:
                raise TimeoutError("benchmark step timed out")

    def visible_rows() -> list[int]:
        return [int(browser.model.rows[i]) for i in browser.grid.visible_range()]

    def screen_loaded() -> bool:
        rows = visible_rows()
        return bool(rows) and all(browser.loader._memory.get(r) is not None for r in rows)

    t = time.perf_counter()
    opened: list[object] = []
    window.dataset_opened.connect(opened.append)
    window.open_path(root)
    wait(lambda: bool(opened))
    app.processEvents()
    grid_shown_s = time.perf_counter() - t
    wait(screen_loaded)
    first_grid_s = time.perf_counter() - t

    filters = browser.filters
    timings: dict[str, float] = {}
    steps = [
        ("split=test", lambda: filters.split.setCurrentText("test")),
        ("+gender=female", lambda: filters.gender.setCurrentText("Female")),
        ("+Eyeglasses=yes", lambda: filters.set_attribute("Eyeglasses", True)),
        ("reset (all 202,599)", lambda: filters.clear()),
        ("gender=male", lambda: filters.gender.setCurrentText("Male")),
        ("reset again", lambda: filters.clear()),
    ]
    for name, step in steps:
        t = time.perf_counter()
        step()
        browser.grid.viewport().repaint()
        app.processEvents()
        timings[name] = time.perf_counter() - t

    # Jump through the grid top to bottom (40 pages a step, as when dragging the scroll bar);
    # each step is one event-loop turn with a full repaint of newly exposed cells.
    bar = browser.grid.verticalScrollBar()
    page = max(bar.pageStep(), 1)
    gaps = []
    timer = QElapsedTimer()
    steps_done = 0
    for value in range(0, bar.maximum() + page, page * 40):
        timer.start()
        bar.setValue(value)
        browser.grid.viewport().repaint()
        app.processEvents()
        gaps.append(timer.elapsed())
        steps_done += 1
    bar.setValue(bar.maximum())
    app.processEvents()
    wait(screen_loaded)
    window.close()
    QTimer.singleShot(0, app.quit)
    return {
        "images": len(dataset),
        "parse_list_attr_s": round(parse_s, 3),
        "import_s": round(import_s, 3),
        "grid_shown_s": round(grid_shown_s, 3),
        "first_grid_painted_s": round(first_grid_s, 3),
        "filter_change_ms": {k: round(v * 1000, 1) for k, v in timings.items()},
        "filter_change_worst_ms": round(max(timings.values()) * 1000, 1),
        "scroll_jumps": steps_done,
        "scroll_frame_ms_median": statistics.median(gaps),
        "scroll_frame_ms_p95": sorted(gaps)[int(0.95 * (len(gaps) - 1))],
        "scroll_worst_frame_ms": max(gaps),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "celeba-202k")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("GENDER_DESKTOP_HOME", tempfile.mkdtemp(prefix="gd-bench-"))
    t = time.perf_counter()
    build(args.root, N_IMAGES)
    print(f"dataset ready in {time.perf_counter() - t:.1f} s at {args.root}", file=sys.stderr)
    result = measure(args.root)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
