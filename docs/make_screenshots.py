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
    shoot_training(app, args.out)
    return 0


def shoot_training(app, out: Path) -> None:
    """A short CPU run on the demo data, then the Train panel with its curves."""
    from gender_desktop.ui.main_window import DEMO, MainWindow

    window = MainWindow()
    window.resize(1400, 860)
    window.show()
    opened: list[object] = []
    window.dataset_opened.connect(opened.append)
    window.open_path(DEMO)
    while not opened:
        app.processEvents()
    window.tabs.setCurrentWidget(window.training)
    form = window.training.form
    form.backbone.setCurrentText("resnet18")
    form.scope.setCurrentIndex(form.scope.findData("all"))
    form.input_size.setValue(64)
    form.weights.setCurrentIndex(form.weights.findData("random"))
    form.optimizer.setCurrentText("adam")
    form.epochs.setValue(6)
    done: list[object] = []
    window.training.run_finished.connect(done.append)
    window.training.start()
    end = time.time() + 600
    while not done and time.time() < end:
        app.processEvents()
    end = time.time() + 1
    while time.time() < end:
        app.processEvents()
    path = out / "training-demo.png"
    window.grab().save(str(path))
    print(path)
    shoot_evaluation(app, window, out)
    shoot_predict(app, window, out)
    window.close()


def wait(app, seconds: float, until=None) -> None:
    end = time.time() + seconds
    while time.time() < end and not (until and until()):
        app.processEvents()


def shoot_evaluation(app, window, out: Path) -> None:
    """The run just trained, as the Evaluate tab shows it: summary, gallery with Grad-CAM,
    slices."""
    panel = window.evaluation
    window.tabs.setCurrentWidget(panel)
    wait(app, 30, lambda: panel.evaluation is not None)
    wait(app, 1)
    for name in ("evaluation-summary.png",):
        window.grab().save(str(out / name))
        print(out / name)
    panel.show_cell("misclassified")
    panel.gallery.select_position(0)
    panel.gallery.detail.grad_cam.setChecked(True)
    wait(app, 60, lambda: bool(panel.cams.cache))
    wait(app, 1)
    window.grab().save(str(out / "evaluation-gallery.png"))
    print(out / "evaluation-gallery.png")
    panel.tabs.setCurrentIndex(1)
    wait(app, 1)
    window.grab().save(str(out / "evaluation-slices.png"))
    print(out / "evaluation-slices.png")


def shoot_predict(app, window, out: Path) -> None:
    """The Predict tab on the demo's test images plus two broken files, with Grad-CAM on."""
    panel = window.predict
    window.tabs.setCurrentWidget(panel)
    dataset = window.dataset
    test = dataset.table[dataset.table["split"] == "test"]["path"].tolist()[:30]
    files = [str(dataset.images.location / rel) for rel in test]
    broken = Path(tempfile.mkdtemp())
    (broken / "IMG_2041 (copy).jpg").write_bytes(b"")
    (broken / "holiday-scan.jpg").write_bytes(Path(files[0]).read_bytes()[:600])
    panel.grad_cam.setChecked(True)
    finished: list[object] = []
    panel.job_finished.connect(finished.append)
    panel.predict_paths([str(broken / "IMG_2041 (copy).jpg"), *files[:3]])
    panel.predict_paths([str(broken / "holiday-scan.jpg"), *files[3:]])
    wait(app, 120, lambda: len(finished) >= 2)
    panel.view.setCurrentIndex(panel.results.index(1, 0))
    wait(app, 12)
    window.grab().save(str(out / "predict-demo.png"))
    print(out / "predict-demo.png")


if __name__ == "__main__":
    raise SystemExit(main())
