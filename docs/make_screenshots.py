"""Render every README screenshot from the real app (offscreen, no display needed).

    python docs/make_screenshots.py [--out docs/images] [--only NAME ...] [--home DIR]

Each shot drives the real main window (or the real dialog) the way a user would: the demo
dataset and a generated CelebA-layout copy in the browser, the welcome page in the dark theme, a
short CPU training run with its evaluation and predictions, the sweep dialog, a 2 x 2 learning
rate x batch size sweep (the CLI, in the same app home) listed, compared and shown as parallel
coordinates, and that sweep's HTML report rendered by headless Chromium (1280 x 1400). Windows
are grabbed at 1280 x 800, the size the README promises they look right at; the sweep dialog at
its own size. The whole set takes about 20 minutes on 2 busy CPU cores (two short trainings: the
Train panel's run and the sweep's four trials). Settings, runs and data go
to a temporary app home, never the user's (``--home`` keeps one between calls, so that
``--only report`` does not train the sweep again). What a shot needs (a trained run, the sweep)
is made on first need, so ``--only NAME`` costs no more than that shot.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SIZE = (1280, 800)
STUDY = "demo-lr-batch"
TRIALS = 4  # its 2 x 2 grid
BIG_PNG = (
    400_000  # bytes: above this a shot is quantised to 256 colours (the README loads them all)
)
TINY = ["--backbone", "resnet18", "--weights", "random", "--scope", "all", "--input-size", "64"]
MISSING = "/media/usb-stick/faces/utkface"  # a recent dataset on a drive that is not plugged in


class Shots:
    """What the shots share: the app, the output folder and what is made once (the CelebA-layout
    copy, the window with the demo open, its trained run, the sweep), each made on first need."""

    def __init__(self, app: Any, out: Path) -> None:
        self.app, self.out = app, out
        self._cache: dict[str, Any] = {}

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def wait(self, seconds: float, until: Callable[[], object] | None = None) -> None:
        """Let the event loop run: background tasks, engine answers and repaints arrive."""
        end = time.time() + seconds
        while time.time() < end and not (until and until()):
            self.app.processEvents()
            time.sleep(0.005)

    def save(self, widget: Any, name: str) -> None:
        """Grab ``widget`` as it would be painted on screen and write it optimised."""
        self.wait(0.5)
        path = self.out / f"{name}.png"
        widget.grab().save(str(path), "PNG", 0)  # quality 0: the strongest PNG compression
        shrink(path)
        print(f"{path} ({path.stat().st_size // 1000} KB)", flush=True)

    def window(self) -> Any:
        """A new main window at the README's size (the saved geometry would otherwise win)."""
        from gender_desktop.ui.main_window import MainWindow

        window = MainWindow()
        window.resize(*SIZE)
        window.show()
        return window

    def open(self, window: Any, target: str) -> None:
        """Open ``target`` and wait until its images are verified (thumbnails settle)."""
        verified: list[object] = []
        window.verified.connect(lambda: verified.append(1))
        window.open_path(target)
        self.wait(180, lambda: verified)
        self.wait(1)


def shrink(path: Path) -> None:
    """Quantise a big PNG to 256 colours (ImageMagick, when installed): screenshots are mostly
    flat UI colours, and the README should not weigh megabytes."""
    convert = shutil.which("convert")
    if path.stat().st_size > BIG_PNG and convert:
        subprocess.run([convert, str(path), "-colors", "256", f"PNG8:{path}"], check=True)


def cli(*args: str) -> None:
    """Run the app's own command line in this app home (same engine as the window)."""
    print("$ gender-desktop", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "gender_desktop", *args], check=True)


# -- what the shots need ----------------------------------------------------------------------------
def celeba(shots: Shots) -> Path:
    """A generated CelebA release layout (the tests' builder: the layout users download), its
    images the demo's cartoon faces of the listed gender."""

    def make() -> Path:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        import builders

        from gender_desktop.data.demo import draw_face

        root = Path(tempfile.mkdtemp(prefix="gd-shots-data-")) / "celeba"
        builders.celeba_official(root, 240, layout="release")
        rng = np.random.default_rng(7)  # the builder's flat tiles replaced by the demo's faces
        for i, name in enumerate(builders.celeba_names(240)):
            face, _shows = draw_face(rng, builders.attr_value(i, "Male") == 1)
            face.save(root / "Img" / "img_align_celeba" / name, quality=92)
        return root

    return shots.once("celeba", make)


def tiny_form(form: Any, epochs: int) -> None:
    """The Train form set to a model a CPU trains in minutes: resnet18, random weights, 64 px."""
    form.backbone.setCurrentIndex(form.backbone.findData("resnet18"))
    form.scope.setCurrentIndex(form.scope.findData("all"))
    form.input_size.setValue(64)
    form.weights.setCurrentIndex(form.weights.findData("random"))
    form.optimizer.setCurrentText("adam")
    form.epochs.setValue(epochs)


def demo_window(shots: Shots) -> Any:
    """The main window with the demo open and the tiny model in the Train form."""

    def make() -> Any:
        from gender_desktop.ui.main_window import DEMO

        window = shots.window()
        shots.open(window, DEMO)
        tiny_form(window.training.form, epochs=6)
        return window

    return shots.once("demo", make)


def trained(shots: Shots) -> Any:
    """The demo window after a short training run from the Train panel (its curves, its saved
    test evaluation for the Evaluate tab, its model for Predict)."""

    def make() -> Any:
        window = demo_window(shots)
        window.tabs.setCurrentWidget(window.training)
        done: list[object] = []
        window.training.run_finished.connect(done.append)
        window.training.start()
        shots.wait(900, lambda: done)
        if not done or "failed" in done[0]:
            raise SystemExit(f"the training run did not finish: {done}")
        shots.wait(1)
        return window

    return shots.once("trained", make)


def sweep_runs(shots: Shots) -> list[str]:
    """The run folders of a 2 x 2 grid sweep (lr x batch size) on the demo, trained by the CLI
    in this app home; an app home kept with ``--home`` that has them already is reused."""

    def make() -> list[str]:
        from gender_desktop.data.demo import ensure_demo

        if len(runs_of_study()) < TRIALS:  # none yet, or an interrupted sweep: Optuna goes on
            data = str(ensure_demo())
            grid = ["--grid", "lr=1e-3,3e-4", "batch=32,64"]
            cli("sweep", "--data", data, *grid, *TINY, "--epochs", "3", "--study", STUDY)
        return runs_of_study()

    return shots.once("sweep", make)


def runs_of_study() -> list[str]:
    """The workspace's run folders that are trials of :data:`STUDY`, in trial order."""
    from gender_desktop.runs.folder import workspace

    found = []
    for meta in workspace().glob("*/meta.json"):
        sweep = json.loads(meta.read_text(encoding="utf-8")).get("sweep") or {}
        if sweep.get("study") == STUDY:
            found.append((sweep.get("trial", 0), str(meta.parent)))
    return [path for _trial, path in sorted(found)]


# -- the shots --------------------------------------------------------------------------------------
def shoot_welcome_dark(shots: Shots) -> None:
    """A fresh start in the dark theme: the welcome page with the demo, a CelebA copy and a
    dataset on a drive that is gone (marked missing, with Remove)."""
    from gender_desktop.ui.main_window import DEMO

    window = shots.window()
    window.settings.setValue("recent", [str(celeba(shots)), DEMO, MISSING])
    window.set_theme("dark")
    window._rebuild_recent()  # what the window does at start, now with this list
    shots.wait(10, lambda: any(row.missing for row in window.welcome.rows))
    shots.save(window, "welcome-dark")
    window.set_theme("light")
    window.close()


def shoot_browser(shots: Shots) -> None:
    """The demo in the browser with a face selected: grid, detail pane, filters."""
    window = demo_window(shots)
    window.tabs.setCurrentWidget(window.browser)
    window.browser.select_rows([6])
    shots.wait(3)
    shots.save(window, "browser-demo")


def shoot_browser_celeba(shots: Shots) -> None:
    """A CelebA release layout read as it is, its test split filtered."""
    window = shots.window()
    shots.open(window, str(celeba(shots)))
    window.browser.filters.split.setCurrentText("test")
    window.browser.select_rows([220])
    shots.wait(3)
    shots.save(window, "browser-celeba-layout")
    window.close()


def shoot_training(shots: Shots) -> None:
    """The Train panel after its run: settings, progress, loss and accuracy curves."""
    window = trained(shots)
    window.tabs.setCurrentWidget(window.training)
    shots.save(window, "training-demo")


def evaluate_tab(shots: Shots) -> Any:
    """The Evaluate tab showing the trained run's saved test evaluation (the window picks the
    new run when training ends)."""
    window = trained(shots)
    panel = window.evaluation
    window.tabs.setCurrentWidget(panel)
    shots.wait(60, lambda: panel.evaluation is not None)
    if panel.evaluation is None:
        raise SystemExit("the Evaluate tab did not load the trained run's evaluation")
    return window


def shoot_evaluation_summary(shots: Shots) -> None:
    """Cards, confusion matrix, ROC and the per-class table."""
    window = evaluate_tab(shots)
    window.evaluation.tabs.setCurrentWidget(window.evaluation.summary)
    shots.save(window, "evaluation-summary")


def shoot_evaluation_gallery(shots: Shots) -> None:
    """The misclassified cell's images, the first selected, its Grad-CAM over it."""
    window = evaluate_tab(shots)
    panel = window.evaluation
    panel.show_cell("misclassified")
    panel.gallery.select_position(0)
    panel.gallery.detail.grad_cam.setChecked(True)
    shots.wait(90, lambda: bool(panel.cams.cache))
    shots.wait(2)
    shots.save(window, "evaluation-gallery")


def shoot_evaluation_slices(shots: Shots) -> None:
    """Accuracy per attribute slice (the demo's glasses, beard, hair...)."""
    window = evaluate_tab(shots)
    window.evaluation.tabs.setCurrentWidget(window.evaluation.slices_view)
    shots.save(window, "evaluation-slices")


def shoot_predict(shots: Shots) -> None:
    """The trained model on the demo's test images plus two broken files, Grad-CAM on."""
    window = trained(shots)
    panel = window.predict
    window.tabs.setCurrentWidget(panel)
    dataset = window.dataset
    test = dataset.table[dataset.table["split"] == "test"]["path"].tolist()[:30]
    files = [str(dataset.images.location / rel) for rel in test]
    broken = Path(tempfile.mkdtemp(prefix="gd-shots-broken-"))
    (broken / "IMG_2041 (copy).jpg").write_bytes(b"")
    (broken / "holiday-scan.jpg").write_bytes(Path(files[0]).read_bytes()[:600])
    panel.grad_cam.setChecked(True)
    finished: list[object] = []
    panel.job_finished.connect(finished.append)
    panel.predict_paths([str(broken / "IMG_2041 (copy).jpg"), *files[:3]])
    panel.predict_paths([str(broken / "holiday-scan.jpg"), *files[3:]])
    shots.wait(180, lambda: len(finished) >= 2)
    panel.view.setCurrentIndex(panel.results.index(1, 0))
    shots.wait(12)
    shots.save(window, "predict-demo")


def framing_photos(dataset: Any, folder: Path) -> list[Path]:
    """Photos from elsewhere made of the demo's test faces: a face small in a room-like scene,
    one turned, a group of two, and a landscape without a face (seeded; the detector must find
    the faces, so faces it misses are passed over)."""
    from PIL import Image, ImageDraw

    from gender_desktop.ml.faces import detect_faces

    rng = np.random.default_rng(5)
    test = dataset.table[dataset.table["split"] == "test"]["path"].tolist()
    faces = []
    for rel in test:
        face = Image.open(dataset.images.location / rel).convert("RGB")
        if detect_faces(face):
            faces.append(face)
        if len(faces) == 4:
            break

    def scene(size: tuple[int, int]) -> Image.Image:
        img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(150, 220, 3)))
        draw = ImageDraw.Draw(img)
        for _ in range(8):  # furniture and frames on a wall
            x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
            w, h = (int(v) for v in rng.integers(30, 160, 2))
            draw.rectangle(
                (x, y, x + w, y + h), fill=tuple(int(v) for v in rng.integers(40, 200, 3))
            )
        return img

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, size, placed in (
        ("portrait-in-the-office.jpg", (640, 480), [(0, 1.2, (250, 80), 0)]),
        ("tilted-selfie.jpg", (480, 480), [(1, 1.6, (90, 60), 8)]),
        ("two-friends.jpg", (720, 420), [(2, 1.1, (90, 90), 0), (3, 1.2, (420, 70), 0)]),
    ):
        img = scene(size)
        for k, scale, at, angle in placed:
            face = faces[k % len(faces)]
            face = face.resize((round(face.width * scale), round(face.height * scale)))
            img.paste(face.rotate(angle, expand=False, fillcolor=face.getpixel((0, 0))), at)
        out.append(folder / name)
        img.save(out[-1], quality=92)
    scene((640, 400)).save(folder / "empty-room.jpg", quality=92)
    return [*out, folder / "empty-room.jpg"]


def shoot_predict_framing(shots: Shots) -> None:
    """Photos from elsewhere with framing Auto: each face framed like the training images, the
    selected one large as the model saw it, with how it was framed."""
    window = trained(shots)
    panel = window.predict
    window.tabs.setCurrentWidget(panel)
    panel.clear()
    panel.grad_cam.setChecked(False)
    panel.framing.setCurrentIndex(panel.framing.findData("auto"))
    photos = framing_photos(window.dataset, Path(tempfile.mkdtemp(prefix="gd-shots-photos-")))
    finished: list[object] = []
    panel.job_finished.connect(finished.append)
    panel.predict_paths([str(p) for p in photos])
    shots.wait(180, lambda: finished)
    panel.view.setCurrentIndex(panel.results.index(1, 0))
    shots.wait(2)
    shots.save(window, "predict-framing")


def shoot_sweep_dialog(shots: Shots) -> None:
    """Sweep… from the Train panel with a 2 x 2 grid (lr x batch size): the run count and the
    time it expects, from earlier runs' speed."""
    window = demo_window(shots)
    window.tabs.setCurrentWidget(window.training)
    dialog = window.training.open_sweep_dialog()
    if dialog is None:
        raise SystemExit("the Train panel did not open the sweep dialog")
    estimated: list[str] = []
    dialog.estimated.connect(estimated.append)
    dialog.fields["lr"].setText("1e-3,3e-4")
    dialog.fields["batch"].setText("32,64")
    shots.wait(30, lambda: estimated)
    shots.save(dialog, "sweep-dialog")
    dialog.reject()


def experiments_tab(shots: Shots) -> tuple[Any, list[str]]:
    """The Experiments tab listing the workspace, the sweep's trials selected."""
    runs = sweep_runs(shots)
    window = demo_window(shots)
    panel = window.experiments
    window.tabs.setCurrentWidget(panel)
    listed: list[object] = []
    panel.refreshed.connect(lambda: listed.append(1))
    panel.show_table()
    shots.wait(60, lambda: listed)
    panel.select_paths(runs)
    return window, runs


def shoot_experiments(shots: Shots) -> None:
    """Every run of the workspace (the Train panel's and the sweep's), the trials selected."""
    window, _runs = experiments_tab(shots)
    shots.save(window, "experiments")


def shoot_compare(shots: Shots) -> None:
    """The four trials compared: metric table, the significance of each pair, the curves."""
    window, runs = experiments_tab(shots)
    panel = window.experiments
    compared: list[object] = []
    panel.compared.connect(lambda: compared.append(1))
    panel.compare_paths(runs)
    shots.wait(120, lambda: compared)
    if not compared:
        raise SystemExit("the Experiments tab did not show the comparison")
    shots.save(window, "compare")
    panel.show_table()


def shoot_parallel(shots: Shots) -> None:
    """Sweep Results… of the sweep: trials, importances, parallel coordinates brushed on the
    learning rate's higher value."""
    sweep_runs(shots)
    window = demo_window(shots)
    dialog = window.training.open_sweep_results(storage="", study=STUDY)
    dialog.resize(*SIZE)
    loaded: list[object] = []
    dialog.loaded.connect(loaded.append)
    shots.wait(120, lambda: loaded)
    if not loaded:
        raise SystemExit(f"Sweep Results did not load {STUDY}: {dialog.status.text()}")
    parallel = dialog.view.parallel
    axis = next(i for i, a in enumerate(parallel.axes) if a.column == "lr")
    import pandas as pd

    height = float(parallel.axes[axis].position(pd.Series([1e-3], dtype=object))[0])
    parallel.set_brush(axis, height - 0.08, min(height + 0.08, 1.0))
    shots.save(dialog, "parallel-coordinates")
    dialog.close()


def shoot_report(shots: Shots) -> None:
    """The sweep's HTML report (the CLI's ``report``) as a browser shows it: headless Chromium."""
    sweep_runs(shots)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("report needs chromium (or chromium-browser) on PATH")
    html = Path(tempfile.mkdtemp(prefix="gd-shots-report-")) / "report.html"
    cli("report", STUDY, "--out", str(html))
    path = shots.out / "report.png"
    shot = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    shot += [f"--screenshot={path}", "--window-size=1280,1400", html.as_uri()]
    subprocess.run(shot, check=True, capture_output=True, timeout=300)
    shrink(path)
    print(f"{path} ({path.stat().st_size // 1000} KB)", flush=True)


SHOTS: dict[str, Callable[[Shots], None]] = {  # in an order that makes each prerequisite once
    "welcome-dark": shoot_welcome_dark,
    "browser-demo": shoot_browser,
    "browser-celeba-layout": shoot_browser_celeba,
    "training-demo": shoot_training,
    "evaluation-summary": shoot_evaluation_summary,
    "evaluation-gallery": shoot_evaluation_gallery,
    "evaluation-slices": shoot_evaluation_slices,
    "predict-demo": shoot_predict,
    "predict-framing": shoot_predict_framing,
    "sweep-dialog": shoot_sweep_dialog,  # after a run, so it has a speed to estimate from
    "experiments": shoot_experiments,
    "compare": shoot_compare,
    "parallel-coordinates": shoot_parallel,
    "report": shoot_report,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SHOTS),
        metavar="NAME",
        help="redo only this shot (repeatable): " + ", ".join(SHOTS),
    )
    parser.add_argument(
        "--home", type=Path, help="the app home to use and keep (default: a new one)"
    )
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = args.home or Path(tempfile.mkdtemp(prefix="gd-shots-"))
    os.environ["GENDER_DESKTOP_HOME"] = str(home.resolve())  # the CLI children read it too
    from gender_desktop.ui.app import create_app
    from gender_desktop.ui.theme import apply_theme

    app = create_app([])
    apply_theme(app, "light")
    args.out.mkdir(parents=True, exist_ok=True)
    shots = Shots(app, args.out)
    start = time.time()
    for name, shoot in SHOTS.items():
        if not args.only or name in args.only:
            shoot(shots)
    print(f"done in {time.time() - start:.0f} s (app home {home})", flush=True)
    for window in app.topLevelWidgets():
        window.close()
    shots.wait(2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
