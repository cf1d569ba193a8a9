"""A trained run's model as a self-contained file for other programs: TorchScript or ONNX.

Both formats hold the same graph: a float32 NCHW batch, already normalised as the metadata's
``preprocessing`` says (any batch size), in; two outputs, ``logit`` and ``p_male``
(``sigmoid(logit)``), out. Decoding, resizing and normalising stay outside the graph so that
any image library can feed it; the JSON metadata inside each file says exactly how.

Every export is checked before it is kept: the file is written to a temp name beside the target,
loaded back with the runtime a user would use (``torch.jit.load``; onnxruntime on the CPU), run
on a fixed random batch and compared with the original model in fp32. Only a file whose logits
agree to within :data:`TOLERANCE` replaces the target (``os.replace``, atomic); on any failure
the temp file is removed and a previous export at the target is left as it was.

torch never writes to the disk itself: its TorchScript writer aborts the whole interpreter when
a write fails (a full disk gave exit 134 and a stray temp file). The file is serialised in
memory and written by Python, whose failures are an :class:`ExportFailed` naming the file.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gender_desktop import __version__
from gender_desktop.errors import UserError, describe_os_error
from gender_desktop.fileio import (
    _fsync_dir,
    _mode_for,
    atomic_write_json,
    clean_stale_temps,
    make_temp,
)
from gender_desktop.ml.framing import geometry_of_run
from gender_desktop.ml.runmodel import RunModel, load_run_model
from gender_desktop.runs.folder import BEST, LAST

FORMATS = ("torchscript", "onnx")
SUFFIXES = {"torchscript": ".torchscript.pt", "onnx": ".onnx"}
METADATA_KEY = "gender_desktop"  # ONNX metadata_props key; TorchScript extra file is .json
TORCHSCRIPT_METADATA = f"{METADATA_KEY}.json"
INPUT_NAME = "input"
OUTPUT_NAMES = ("logit", "p_male")
CLASS_NAMES = {"1": "Male", "0": "Female"}
TOLERANCE = 1e-4  # max |logit difference| between the file and the model, fp32 on the CPU
VERIFY_BATCH = 4
VERIFY_SEED = 0
# The dynamo exporter builds its graphs at opset 18 (onnxscript's torchlib). Asking for 17 makes
# it run the ONNX version converter, which fails on ReduceMean/ReduceMax (axes move from an input
# back to an attribute) and keeps 18 anyway with a warning. 18 loads in onnxruntime >= 1.14.
ONNX_OPSET = 18
ONNX_MISSING = (
    "ONNX export needs the onnx, onnxruntime and onnxscript packages: "
    "pip install 'gender-desktop[export]'"
)


class ExportFailed(UserError):
    """An export could not be written or did not reproduce the model; nothing was kept."""


@dataclass
class ExportResult:
    format: str  # "torchscript" or "onnx"
    path: Path
    max_abs_diff: float  # verified max |logit difference| to the original model
    seconds: float  # export plus verification

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


class ExportWrapper(nn.Module):
    """GenderNet with the probability next to the logit, so a consumer needs no sigmoid and
    cannot apply it twice."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logit = self.model(x)
        return logit, torch.sigmoid(logit)


# -- public API -----------------------------------------------------------------------------------
def export_torchscript(run_model: RunModel, out_path: str | os.PathLike[str]) -> Path:
    """Write the model as TorchScript (loadable from Python and C++/LibTorch without this
    package) with the metadata as the extra file ``gender_desktop.json``; verified."""
    target = Path(out_path)
    _export_torchscript(run_model, target)
    return target


def export_onnx(run_model: RunModel, out_path: str | os.PathLike[str]) -> Path:
    """Write the model as ONNX (opset :data:`ONNX_OPSET`, dynamic batch) with the metadata in
    the model's ``metadata_props`` under ``gender_desktop`` and beside it as ``<name>.json``;
    verified with onnxruntime. Needs the ``export`` extra (onnx, onnxruntime, onnxscript)."""
    target = Path(out_path)
    _export_onnx(run_model, target)
    return target


def export_run(
    run_dir: str | os.PathLike[str],
    formats: Sequence[str] = FORMATS,
    out_dir: str | os.PathLike[str] | None = None,
    which: str | None = None,
) -> list[ExportResult]:
    """Export a run folder's model in each format into ``out_dir`` (default ``<run>/export/``).

    ``which`` is ``best``/``last`` (or ``best.pt``/``last.pt``); None takes best where it exists.
    Files are named ``<run folder name>-<checkpoint>`` plus the format's suffix, so copies from
    several runs or checkpoints can share a folder. Raises ``RunUnusable`` for a bad run folder
    and :class:`ExportFailed` when a format cannot be written or verified (files of formats
    finished before it stay: each is complete and verified on its own).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be among {', '.join(FORMATS)}, not {list(formats)}")
    if "onnx" in formats:
        _import_onnx()  # before anything is written: fail whole, not after the TorchScript file
    if which in ("best", "last"):
        which = BEST if which == "best" else LAST
    run_model = load_run_model(run_dir, which)
    folder = Path(out_dir).expanduser() if out_dir is not None else run_model.run.path / "export"
    folder = folder.absolute()  # the paths reported (and printed by the CLI) are unambiguous
    stem = f"{run_model.run.path.name}-{Path(run_model.checkpoint).stem}"
    writers: dict[str, Callable[[RunModel, Path], float]] = {
        "torchscript": _export_torchscript,
        "onnx": _export_onnx,
    }
    results = []
    for fmt in dict.fromkeys(formats):  # in order, each once
        start = time.perf_counter()
        path = folder / f"{stem}{SUFFIXES[fmt]}"
        diff = writers[fmt](run_model, path)
        results.append(ExportResult(fmt, path, diff, time.perf_counter() - start))
    return results


def export_metadata(run_model: RunModel) -> dict[str, Any]:
    """What a consumer needs besides the graph: how to prepare images (the normalisation, and
    ``framing``: where the face sat in the training images, so another program can cut new
    photos the way the app does, see ml/framing.py), what comes out, and which run, checkpoint
    and versions produced it."""
    size = run_model.input_size
    return {
        "format_version": 1,
        "preprocessing": run_model.preprocessing(),
        "framing": geometry_of_run(run_model.run.path).to_dict(),
        "input": {"name": INPUT_NAME, "shape": ["N", 3, size, size], "dtype": "float32"},
        "outputs": {
            "logit": "one logit per image, shape [N]",
            "p_male": "sigmoid(logit), probability of Male, shape [N]",
        },
        "class_names": dict(CLASS_NAMES),
        "run": run_model.run.path.name,
        "backbone": run_model.config.model.backbone,
        "checkpoint": run_model.checkpoint,
        "epoch": run_model.epoch,
        "gender_desktop_version": __version__,
        "torch_version": torch.__version__,
    }


# -- TorchScript ----------------------------------------------------------------------------------
def _export_torchscript(run_model: RunModel, target: Path) -> float:
    wrapper = _wrapper(run_model)
    metadata = json.dumps(export_metadata(run_model), indent=2, sort_keys=True)
    try:
        with _quiet_torchscript():
            # script, not trace: nothing shape-dependent is baked in, so any batch size runs.
            scripted = torch.jit.script(wrapper)
    except Exception as exc:  # TorchScript's frontend raises several kinds; all mean "failed"
        raise ExportFailed(f"{target}: TorchScript cannot compile the model ({exc})") from exc
    buffer = io.BytesIO()
    with _quiet_torchscript():
        torch.jit.save(scripted, buffer, _extra_files={TORCHSCRIPT_METADATA: metadata})
    with _staged(target) as tmp:
        tmp.write_bytes(buffer.getvalue())
        del buffer
        with _quiet_torchscript():
            extra = {TORCHSCRIPT_METADATA: ""}
            # From bytes read back from disk: what was written is checked, and no open handle
            # keeps Windows from renaming the file.
            loaded = torch.jit.load(
                io.BytesIO(tmp.read_bytes()), map_location="cpu", _extra_files=extra
            )
        if _decode(extra[TORCHSCRIPT_METADATA]) != metadata:
            raise ExportFailed(f"{target}: the metadata did not survive saving")

        def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            with torch.no_grad():
                logit, p_male = loaded(torch.from_numpy(x))
            return logit.numpy(), p_male.numpy()

        diff = _verify(run_model, run, target)
    return diff


@contextlib.contextmanager
def _quiet_torchscript() -> Iterator[None]:
    """Recent torch (2.14 here) marks torch.jit deprecated with a FutureWarning on every call; it is still
    what LibTorch and many deployment tools load, and the warning is not the user's to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
        yield


# -- ONNX -----------------------------------------------------------------------------------------
def _import_onnx() -> tuple[Any, Any]:
    """onnx and onnxruntime, imported only when ONNX is asked for: they are an optional extra.
    onnxscript is checked too: torch's exporter needs it, and without this check its absence
    would surface as an exporter failure halfway through instead of this install hint."""
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ExportFailed(ONNX_MISSING) from exc
    return onnx, onnxruntime


def _export_onnx(run_model: RunModel, target: Path) -> float:
    """The dynamo (torch.export) exporter, torch's default since 2.9: the TorchScript-based one
    (``dynamo=False``) is deprecated and only warns today. The batch dimension is declared
    dynamic through ``dynamic_shapes``; the weights are embedded (``external_data=False``) so the
    model is one file that can be swapped in atomically (the largest backbone, VGG16, is ~60 MB,
    far below protobuf's 2 GB limit)."""
    onnx, onnxruntime = _import_onnx()
    wrapper = _wrapper(run_model)
    metadata = json.dumps(export_metadata(run_model), indent=2, sort_keys=True)
    if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        raise ExportFailed(f"ONNX export needs torch 2.5 or newer (this is {torch.__version__})")
    size = run_model.input_size
    example = torch.zeros(2, 3, size, size)  # not 1: torch.export specialises sizes 0 and 1
    try:
        program = torch.onnx.export(
            wrapper,
            (example,),
            None,
            dynamo=True,
            external_data=False,
            opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False,  # otherwise it prints progress to stdout (and into --json output)
        )
    except Exception as exc:  # the exporter raises many kinds; all mean "failed"
        raise ExportFailed(f"{target}: the ONNX exporter failed ({exc})") from exc
    proto = program.model_proto
    props = {p.key: p.value for p in proto.metadata_props}
    props[METADATA_KEY] = metadata
    onnx.helper.set_model_props(proto, props)
    data = proto.SerializeToString()
    with _staged(target) as tmp:
        tmp.write_bytes(data)
        try:
            session = onnxruntime.InferenceSession(
                tmp.read_bytes(), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's errors have no common base
            raise ExportFailed(f"{target}: onnxruntime cannot load the export ({exc})") from exc
        stored = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if stored != metadata:
            raise ExportFailed(f"{target}: the metadata did not survive saving")

        def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            logit, p_male = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
            return np.asarray(logit), np.asarray(p_male)

        diff = _verify(run_model, run, target)
    # The sidecar only once the model is in place: a failed export leaves no stray metadata.
    sidecar = target.with_suffix(".json")
    try:
        atomic_write_json(sidecar, json.loads(metadata))
    except OSError as exc:
        raise ExportFailed(
            f"{describe_os_error(exc, 'write')}; {target} was written, its metadata beside "
            "it was not (the same metadata is inside the model file)"
        ) from exc
    return diff


# -- shared ---------------------------------------------------------------------------------------
def _wrapper(run_model: RunModel) -> ExportWrapper:
    """The exported module; the model must be what verification compares with (fp32, CPU)."""
    params = list(run_model.model.parameters())
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in params):
        raise ExportFailed("export needs the model in float32 on the CPU (as load_run_model gives)")
    run_model.model.eval()
    return ExportWrapper(run_model.model).eval()


def _verify(
    run_model: RunModel,
    run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    target: Path,
) -> float:
    """Max |logit difference| of the reloaded file to the model, on a seeded random batch and on
    a single image (a batch size other than the traced one catches a graph that baked it in).
    Raises :class:`ExportFailed` above :data:`TOLERANCE` or when ``p_male`` disagrees."""
    size = run_model.input_size
    generator = torch.Generator().manual_seed(VERIFY_SEED)
    batch = torch.randn(VERIFY_BATCH, 3, size, size, generator=generator)
    worst = 0.0
    for x in (batch, batch[:1]):
        with torch.no_grad():
            expected = run_model.model(x).float()
        try:
            logit, p_male = run(x.numpy().copy())
        except Exception as exc:  # any runtime error means the file is unusable
            raise ExportFailed(f"{target}: the reloaded export does not run ({exc})") from exc
        if logit.shape != tuple(expected.shape) or p_male.shape != tuple(expected.shape):
            raise ExportFailed(
                f"{target}: outputs have shapes {logit.shape} and {p_male.shape}, "
                f"expected {tuple(expected.shape)}"
            )
        diff = float(np.max(np.abs(logit - expected.numpy())))
        p_diff = float(np.max(np.abs(p_male - torch.sigmoid(expected).numpy())))
        if not diff < TOLERANCE or not p_diff < TOLERANCE:  # also catches NaN
            raise ExportFailed(
                f"{target}: the export does not reproduce the model (max logit difference "
                f"{diff:.3g}, max p_male difference {p_diff:.3g}; tolerance {TOLERANCE:g})"
            )
        worst = max(worst, diff)
    return worst


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A temp path beside ``target`` (same folder, so the rename is atomic). When the block ends
    cleanly the file is synced and replaces ``target``; on any exception it is deleted. A
    failed write (a full disk, a read-only folder) is an :class:`ExportFailed` naming
    ``target``; temp files of earlier exports that were killed are removed first."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(target.parent)
        fd, tmp = make_temp(target)
        os.close(fd)
    except OSError as exc:
        raise ExportFailed(_os_message(exc, target)) from exc
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(target))  # mkstemp's 0600 would hide the export from others
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise ExportFailed(_os_message(exc, target)) from exc
        raise
    _fsync_dir(target.parent)


def _os_message(exc: OSError, target: Path) -> str:
    """What a failed write of ``target`` means for the user (the target named, not the temp
    file); nothing of it was kept."""
    named = OSError(exc.errno, exc.strerror, str(target))
    return f"{describe_os_error(named, 'write')}; nothing was written"


def _decode(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
