"""The comparison figures show the runs' numbers and render to PNG files offscreen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage
from runfiles import write_run

from gender_desktop.runs.compare import compare
from gender_desktop.ui import figures


def two_runs(root: Path):
    a = write_run(root, "a", lr=1e-3, correct=[True] * 9 + [False], val_accuracy=[0.5, 0.7, 0.8])
    b = write_run(
        root, "b", lr=1e-4, epochs=2, correct=[True] * 6 + [False] * 4, val_loss=[0.9, 0.4]
    )
    return compare([a.path, b.path])


def test_figures_plot_the_runs_numbers(qtbot, tmp_path: Path) -> None:
    comparison = two_runs(tmp_path)
    shown = figures.figures_for(comparison)
    for widget in shown.values():
        qtbot.addWidget(widget)
    acc, _loss = shown["curves"].curves["a"]
    assert list(acc.getData()[1]) == [0.5, 0.7, 0.8]
    assert list(shown["curves"].curves["b"][1].getData()[1]) == [0.9, 0.4]
    assert [label.text for _sample, label in shown["curves"].legend.items] == ["a", "b"]
    heights = shown["metrics"].bars["a"].opts["height"]
    assert heights[0] == 0.9  # accuracy of run a
    assert list(np.asarray(shown["time"].bar.opts["width"])) == [30.0, 20.0]
    assert [t.toPlainText() for t in shown["time"].labels] == ["30 s", "20 s"]
    tiles = shown["confusion"].tiles
    assert [t.confusion["tp"] + t.confusion["fn"] for t in tiles] == [5, 5]


def test_render_png_writes_an_image_of_the_asked_size(qtbot, tmp_path: Path) -> None:
    comparison = two_runs(tmp_path)
    written = figures.render_all(comparison, tmp_path)
    assert set(written) == {"curves", "metrics", "time", "confusion"}
    for path in written.values():
        image = QImage(str(path))
        assert (image.width(), image.height()) == (900, 420)
        # something is drawn: more than one colour
        colours = {image.pixel(x, y) for x in range(0, 900, 30) for y in range(0, 420, 30)}
        assert len(colours) > 2


def test_a_run_title_with_markup_is_shown_as_written(qtbot, tmp_path: Path) -> None:
    """Legend labels and tooltips are rich text in Qt: a title such as ``<b>x</b>`` or
    ``<script>…`` must show as typed (it showed an empty legend label)."""
    from gender_desktop.runs.meta import update_meta

    a = write_run(tmp_path, "a", lr=1e-3, correct=[True] * 9 + [False])
    b = write_run(tmp_path, "b", lr=1e-4, correct=[True] * 6 + [False] * 4)
    update_meta(a.path, title="<script>alert(1)</script>")
    update_meta(b.path, title="<b>bold</b> & co")
    shown = figures.figures_for(compare([a.path, b.path]))
    for widget in shown.values():
        qtbot.addWidget(widget)
    for name in ("curves", "metrics"):
        rendered = [label.item.toPlainText() for _s, label in shown[name].legend.items]
        assert rendered == ["<script>alert(1)</script>", "<b>bold</b> & co"]
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in shown["confusion"].tiles[1].toolTip()
