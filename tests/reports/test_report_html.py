"""The single-file HTML report: inline figures from the app's plots, escaped names, the
significance in words; and the `report` command's exit codes."""

from __future__ import annotations

import base64
import html
import io
import re

from PIL import Image

from gender_desktop.cli import main
from gender_desktop.runs.compare import compare
from gender_desktop.runs.meta import update_meta
from gender_desktop.ui.report_figures import WIDTH, write_report

SCRIPT = "<script>alert(1)</script>"


def test_html_is_one_file_with_inline_figures_and_escaped_names(qapp, run_copies, tmp_path):
    update_meta(run_copies[0], title=SCRIPT, note='a note <b onmouseover="x()">bold</b>')
    out = write_report(run_copies, tmp_path / "report" / "study.html", title="LR <study>")
    assert [p.name for p in out.parent.iterdir()] == ["study.html"]  # nothing beside it
    text = out.read_text()
    assert not re.search(r"<script|onmouseover=\"|<b on", text, re.IGNORECASE)
    assert html.escape(SCRIPT) in text and "<title>LR &lt;study&gt;</title>" in text
    assert not re.search(r"(src|href)=['\"]?(https?:|file:|//)", text)  # no external files
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(images) == 4  # curves, metric bars, training times, confusion matrices
    for data in images:
        picture = Image.open(io.BytesIO(base64.b64decode(data)))
        assert picture.format == "PNG" and picture.width == WIDTH
        assert len(picture.convert("RGB").getcolors(1 << 20)) > 10  # something is drawn
    (pair,) = compare(run_copies).pairs
    assert html.escape(pair.sentence) in text
    assert re.search(r'<tr class="differs"><td>lr</td>', text)  # the differing setting
    assert "Where " in text and "its test slices, worst first" in text


def test_a_sweep_report_lists_its_trials(qapp, run_copies, tmp_path, capsys):
    for trial, run in enumerate(run_copies):
        update_meta(run, sweep={"study": "lr-grid", "trial": trial})
    out = tmp_path / "sweep.html"
    code = main(["report", "lr-grid", "--runs-dir", str(tmp_path / "runs"), "--out", str(out)])
    assert code == 0 and f"report of 2 run(s): {out}" in capsys.readouterr().out
    text = out.read_text()
    assert "<h1>Sweep lr-grid</h1>" in text and "<h2>Trials of sweep lr-grid</h2>" in text
    assert "test accuracy (grey) was not used for the choice" in text


def test_report_exit_codes(run_copies, tmp_path, capsys):
    missing = tmp_path / "no-such-run"
    assert main(["report", str(run_copies[0]), str(missing), "--out", "x.md"]) == 2
    assert f"{missing}: no such run folder, and no sweep of that name" in capsys.readouterr().err
    assert main(["report", str(run_copies[0]), "--out", str(tmp_path / "x.docx")]) == 2
    assert "must end in .html, .md or .csv" in capsys.readouterr().err
    assert not (tmp_path / "x.docx").exists()
    assert main(["report", *map(str, run_copies), "--out", str(tmp_path / "t.csv")]) == 0
    assert (tmp_path / "t.csv").read_text().startswith("Configuration,Accuracy,")


def test_the_apps_report_child_writes_the_html(qtbot, run_copies, tmp_path):
    """The Experiments tab's path: a request to the report child, the file's path back."""
    from gender_desktop.ui.engine import ProcessClient
    from gender_desktop.ui.report_service import REPORT_SERVICE

    client = ProcessClient("report", service=REPORT_SERVICE, idle_release_s=None)
    out = tmp_path / "from-the-app.html"
    try:
        with qtbot.waitSignal(client.finished, timeout=120_000) as done:
            client.request("report", runs=[str(p) for p in run_copies], out=str(out), title="T")
        assert done.args[1] == {"path": str(out), "runs": 2}
        assert out.read_text().count("data:image/png;base64,") == 4
        with qtbot.waitSignal(client.failed, timeout=60_000) as failed:
            client.request("report", runs=[str(tmp_path / "gone")], out=str(out))
        assert "gone: not a run folder" in failed.args[1]
    finally:
        client.shutdown()


def test_three_or_more_runs_also_get_the_parallel_coordinates(qapp, tmp_path) -> None:
    """A sweep's report shows its runs across the settings that differ, as the Sweep Results
    view does; two runs do not (the table says as much)."""
    from runfiles import write_run

    from gender_desktop.ui.report_figures import parallel_frame

    runs = [
        write_run(
            tmp_path / "runs", f"t{i}", epochs=2, lr=lr, batch_size=batch, val_loss=[0.6, loss]
        )
        for i, (lr, batch, loss) in enumerate(((1e-3, 32, 0.3), (1e-4, 32, 0.5), (1e-3, 64, 0.4)))
    ]
    frame, keys = parallel_frame(compare([r.path for r in runs]))
    assert keys == ["batch_size", "lr"] or keys == ["lr", "batch_size"]
    assert list(frame["val_loss"]) == [0.3, 0.5, 0.4] and list(frame["lr"]) == [1e-3, 1e-4, 1e-3]
    text = write_report([r.path for r in runs], tmp_path / "three.html").read_text()
    assert len(re.findall(r"src='data:image/png;base64,", text)) == 5
    assert "Parallel coordinates: one line per run" in text
    assert parallel_frame(compare([r.path for r in runs[:2]])) is None


def test_the_run_chosen_on_validation_follows_the_rule_the_text_names():
    """A report and Sweep Results name the same best run: the lowest val loss of the kept
    epochs, unless every run kept its epoch of highest val accuracy."""
    from pathlib import Path

    from gender_desktop.reports.content import chosen_on_validation
    from gender_desktop.runs.index import RunRecord

    def record(name: str, loss: float, accuracy: float, metric: str) -> RunRecord:
        return RunRecord(
            path=Path(name), name=name, title=name, best_val_loss=loss, best_val_accuracy=accuracy,
            settings={"best_metric": metric},
        )  # fmt: skip

    calm = record("calm", 0.15, 0.90, "val_loss")
    lucky = record("lucky", 0.40, 0.93, "val_loss")
    assert chosen_on_validation([lucky, calm]) == 1  # the lowest val loss, not the top accuracy
    by_accuracy = [record("a", 0.15, 0.90, "val_accuracy"), record("b", 0.4, 0.93, "val_accuracy")]
    assert chosen_on_validation(by_accuracy) == 1
