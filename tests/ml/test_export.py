"""Exported models (TorchScript, ONNX) reproduce the run's model, carry their metadata, accept
any batch size, and a failed export leaves nothing behind."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import builders
import numpy as np
import pytest
import torch
from setups import tiny_config, train_in_own_home

from gender_desktop import __version__
from gender_desktop.cli import main
from gender_desktop.ml import export
from gender_desktop.ml.export import (
    ExportFailed,
    ExportResult,
    export_onnx,
    export_run,
    export_torchscript,
)
from gender_desktop.ml.framing import FaceGeometry, write_geometry
from gender_desktop.ml.models import ModelConfig
from gender_desktop.ml.runmodel import RunModel, RunUnusable, load_run_model

SIZE = 32
# The run's framing.json for the exports (not a built-in geometry: the metadata must carry the
# run's own file, not a default).
FRAMING = FaceGeometry(0.47, 0.58, 0.41, 1.25, 23, "learned")


def train_tiny_run(factory: pytest.TempPathFactory, backbone: str) -> Path:
    """One epoch, random weights, 32 px: seconds on a CPU. The autouse ``app_home`` fixture is
    per test and so not yet active for a module fixture; the home is isolated here instead."""
    root = factory.mktemp(f"export-{backbone}")
    data = builders.celeba_official(root / "colours", 80)
    config = tiny_config(
        data, model=ModelConfig(backbone=backbone, input_size=SIZE, hidden=(16,)), epochs=1
    )
    run, _summary = train_in_own_home(root, config, backbone)
    return run.path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_run(tmp_path_factory, "resnet18")


@pytest.fixture(scope="module")
def exported(run_dir: Path) -> dict[str, ExportResult]:
    """Both formats of the resnet18 run, exported once for the tests that read them, with a
    framing.json of the run's own (the 12 px colour images give none)."""
    pytest.importorskip("onnxruntime")
    write_geometry(run_dir, FRAMING)
    return {r.format: r for r in export_run(run_dir)}


@pytest.fixture(scope="module")
def run_model(run_dir: Path) -> RunModel:
    return load_run_model(run_dir)


def reference(run_model: RunModel, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = torch.randn(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return x.numpy(), run_model.model(x).numpy()


def check_metadata(meta: dict, run_model: RunModel) -> None:
    assert meta["preprocessing"] == run_model.preprocessing()
    assert meta["class_names"] == {"1": "Male", "0": "Female"}
    assert meta["run"] == run_model.run.path.name
    assert meta["backbone"] == "resnet18"
    assert meta["checkpoint"] == "best.pt" and meta["epoch"] == 1
    assert meta["gender_desktop_version"] == __version__
    assert meta["input"]["shape"] == ["N", 3, SIZE, SIZE]
    assert FaceGeometry.from_dict(meta["framing"]) == FRAMING  # frame new photos like the app


@pytest.mark.filterwarnings("ignore:.*torch.jit.load.*:FutureWarning")
def test_torchscript_round_trip_and_metadata(
    exported: dict[str, ExportResult], run_model: RunModel
) -> None:
    result = exported["torchscript"]
    assert (
        result.path
        == run_model.run.path / "export" / f"{run_model.run.path.name}-best.torchscript.pt"
    )
    assert result.max_abs_diff < 1e-4 and result.seconds > 0
    extra = {"gender_desktop.json": ""}
    loaded = torch.jit.load(str(result.path), _extra_files=extra)
    check_metadata(json.loads(extra["gender_desktop.json"]), run_model)
    for n in (3, 5):
        x, expected = reference(run_model, n, seed=n)
        with torch.no_grad():
            logit, p_male = loaded(torch.from_numpy(x))
        assert logit.shape == (n,)
        assert np.abs(logit.numpy() - expected).max() < 1e-4
        assert torch.allclose(p_male, torch.sigmoid(logit))


def test_onnx_round_trip_with_dynamic_batch_and_metadata(
    exported: dict[str, ExportResult], run_model: RunModel
) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    result = exported["onnx"]
    assert result.path.suffix == ".onnx" and result.max_abs_diff < 1e-4
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logit", "p_male"]
    assert not isinstance(session.get_inputs()[0].shape[0], int)  # a named, dynamic dimension
    for n in (3, 5):
        x, expected = reference(run_model, n, seed=n)
        logit, p_male = session.run(None, {"input": x})
        assert logit.shape == (n,) and p_male.shape == (n,)
        assert np.abs(logit - expected).max() < 1e-4
        np.testing.assert_allclose(p_male, 1 / (1 + np.exp(-logit)), atol=1e-6)
    model = onnx.load(str(result.path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props["gender_desktop"])
    check_metadata(meta, run_model)
    assert json.loads(result.path.with_suffix(".json").read_text()) == meta


def test_mobilenet_v2_exports(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    run = train_tiny_run(tmp_path_factory, "mobilenet_v2")
    results = export_run(run, out_dir=tmp_path)
    assert [r.format for r in results] == ["torchscript", "onnx"]
    assert all(r.max_abs_diff < 1e-4 and r.path.parent == tmp_path for r in results)
    assert json.loads((tmp_path / f"{run.name}-best.json").read_text())["backbone"] == (
        "mobilenet_v2"
    )


def test_a_bad_run_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-run"
    with pytest.raises(RunUnusable, match=re.escape(str(missing))):
        export_run(missing, formats=("torchscript",))
    empty = tmp_path / "empty-run"
    empty.mkdir()
    with pytest.raises(RunUnusable, match=re.escape(f"{empty}: not a run folder (config.json")):
        export_run(empty, formats=("torchscript",))
    assert list(empty.iterdir()) == []


def test_unknown_format_is_refused(run_dir: Path) -> None:
    with pytest.raises(ValueError, match="formats"):
        export_run(run_dir, formats=("tflite",))


def test_cli_json(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    code = main(
        ["export", "--run", str(run_dir), "--out", str(tmp_path), "--checkpoint", "last", "--json"]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)  # nothing but the JSON object on stdout
    assert [e["format"] for e in out["exports"]] == ["torchscript", "onnx"]
    for entry in out["exports"]:
        assert Path(entry["path"]).is_file() and entry["path"].startswith(str(tmp_path))
        assert "-last." in Path(entry["path"]).name
        assert entry["max_abs_diff"] < 1e-4 and entry["seconds"] > 0


def test_cli_text_and_bad_run(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["export", "--run", str(run_dir), "--out", str(tmp_path), "--format", "torchscript"])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("torchscript: ")
    assert str(tmp_path) in lines[0] and "max logit difference" in lines[0]
    assert main(["export", "--run", str(tmp_path / "nope")]) == 2
    assert str(tmp_path / "nope") in capsys.readouterr().err


def test_cli_an_output_folder_that_cannot_be_made_exits_2(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: exit 1, as for a bug. A file where the output folder should be is bad input."""
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    assert main(["export", "--run", str(run_dir), "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gender-desktop export: error: ") and str(blocker) in err
    assert err.count("\n") == 1 and blocker.read_text() == "in the way"


@pytest.fixture
def failing_verification(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No difference passes a zero tolerance, so every verification fails (after writing)."""
    monkeypatch.setattr(export, "TOLERANCE", 0.0)
    yield


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_failed_verification_leaves_nothing(
    run_dir: Path, tmp_path: Path, fmt: str, failing_verification: None
) -> None:
    """Written, reloaded, found wrong: no temp file, no sidecar, and the previous export at the
    target is untouched."""
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    target = tmp_path / f"model{export.SUFFIXES[fmt]}"
    target.write_bytes(b"previous")
    writer = export_onnx if fmt == "onnx" else export_torchscript
    with pytest.raises(ExportFailed, match="does not reproduce the model"):
        writer(load_run_model(run_dir), target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_missing_onnx_packages_fail_before_writing(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    with pytest.raises(ExportFailed, match=r"pip install 'gender-desktop\[export\]'"):
        export_run(run_dir, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_app_exports_torchscript_even_without_the_onnx_packages(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Evaluate tab's Export Model… (the engine's export request) keeps what it could
    make and says what is missing, instead of failing as a whole."""
    import gender_desktop.ml.export as export_module
    from gender_desktop.ml.service import Engine

    def no_onnx():
        raise export_module.ExportFailed(export_module.ONNX_MISSING)

    monkeypatch.setattr(export_module, "_import_onnx", no_onnx)
    engine = Engine()
    result = engine.export({"run": str(run_dir), "out_dir": str(tmp_path)})
    assert [f["format"] for f in result["files"]] == ["torchscript"]
    assert Path(result["files"][0]["path"]).exists()
    assert result["problems"] == [export_module.ONNX_MISSING]
    assert not list(tmp_path.glob("*.onnx"))
