"""Every CUDA branch of the engine, run for real on a GPU: mixed precision (bf16, and fp16
with its grad scaler forced), channels-last, pinned non-blocking copies, the out-of-memory and
NaN messages, exact resume, bf16 prediction against fp32, Grad-CAM, export, batched JPEG
decoding and two-GPU DDP. Skipped (with the reason) where PyTorch sees no CUDA device; run with
``pytest -m cuda tests/cuda`` (benchmarks/gpu_check.sh does, on the first GPU at hand)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from setups import tiny_config

from gender_desktop.ml import gpu_decode, runtime
from gender_desktop.ml.config import ModelConfig
from gender_desktop.ml.models import GenderNet
from gender_desktop.ml.trainer import BatchEnd, Control, Trainer, TrainingFailed
from gender_desktop.runs.folder import RunFolder

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="no CUDA: torch.cuda.is_available() is False"
    ),
]
CUDA = torch.device("cuda")
FACES_MODEL = ModelConfig(backbone="resnet18", input_size=48, hidden=(16,))


def cuda_config(data: Path, **changes):
    return tiny_config(data, device="cuda", workers=2, **changes)


def _train(config, tmp_path: Path, name: str = "run", **kwargs):
    run = RunFolder.create(name, tmp_path / "runs")
    trainer = Trainer(config, run, **kwargs)
    return run, trainer, trainer.run()


def _moved(config, trained: torch.nn.Module) -> list[str]:
    torch.manual_seed(config.seed)
    start = GenderNet(config.model).state_dict()
    now = {k: v.cpu() for k, v in trained.state_dict().items()}
    return [k for k, v in start.items() if v.is_floating_point() and not torch.equal(v, now[k])]


@pytest.mark.skipif(
    torch.cuda.is_available() and not runtime.real_bf16(CUDA), reason="this GPU has no native bf16"
)
def test_bf16_autocast_trains(faces: Path, tmp_path: Path) -> None:
    config = cuda_config(faces, epochs=1, model=FACES_MODEL)
    _run, trainer, summary = _train(config, tmp_path)
    assert (trainer.precision.name, trainer.precision.scaler) == ("bf16", False)
    assert np.isfinite(summary["history"][0]["train_loss"])
    assert "head.0.weight" in _moved(config, trainer.model)


def test_fp16_with_the_grad_scaler_forced(faces: Path, tmp_path: Path) -> None:
    """Forced fp16 on any GPU: the scaler is active, saved in last.pt, and steps are taken
    (the synthetic faces: the solid-colour test images overflow fp16 gradients at every
    scale, so the scaler would rightly skip every step)."""
    config = cuda_config(faces, epochs=2, amp_dtype="fp16", model=FACES_MODEL)
    run, trainer, summary = _train(config, tmp_path)
    assert (trainer.precision.name, trainer.precision.scaler) == ("fp16", True)
    assert all(np.isfinite(row["train_loss"]) for row in summary["history"])
    scaler = run.load_checkpoint("last.pt")["scaler"]
    assert scaler["scale"] > 0 and scaler["_growth_tracker"] >= 0
    moved = _moved(config, trainer.model)
    assert "head.0.weight" in moved and any(k.startswith("trunk.") for k in moved)


def test_the_model_and_batches_are_channels_last_on_cuda(colour_data: Path, tmp_path) -> None:
    _run, trainer, _summary = _train(cuda_config(colour_data, epochs=1), tmp_path)
    conv = next(m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.device.type == "cuda"
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    loop = trainer._loop_state(trainer.model)
    x = loop.batcher(trainer.rows["train"][:8], None, None)
    assert x.is_cuda and x.is_contiguous(memory_format=torch.channels_last)


def test_pinned_non_blocking_copies_arrive_whole(colour_data: Path, tmp_path: Path) -> None:
    """Many copies queued without a sync between them (the pinned staging buffers must live
    until their copy ran): every batch equals its rows of the decoded array."""
    _run, trainer, _summary = _train(cuda_config(colour_data, epochs=1), tmp_path)
    batcher = trainer._loop_state(trainer.model).batcher
    assert batcher.pin
    rng = np.random.default_rng(0)
    picks = [rng.permutation(trainer.rows["train"])[:16] for _ in range(50)]
    loaded = [batcher.load(rows) for rows in picks]
    torch.cuda.synchronize()
    for rows, block in zip(picks, loaded, strict=True):
        expected = torch.from_numpy(np.asarray(trainer.decoded.array[rows])).permute(0, 3, 1, 2)
        assert torch.equal(block.cpu(), expected)


def test_out_of_memory_names_the_batch_size(tmp_path: Path) -> None:
    """A real OOM: VGG16's whole network at 1024 px wants over a gigabyte a image in training,
    so 256 images exceed any GPU made; the message says what to lower."""
    import builders

    data = builders.celeba_official(tmp_path / "big", 320)
    model = ModelConfig(backbone="vgg16", input_size=1024, hidden=(16,), scope="all")
    config = cuda_config(data, model=model, batch_size=256, epochs=1, workers=8)
    try:
        with pytest.raises(TrainingFailed, match="CUDA ran out of memory at batch size 256"):
            _train(config, tmp_path)
    finally:
        gc.collect()  # the traceback's frames hold the failed batch's activations
        torch.cuda.empty_cache()
    # The engine child lives on after a failed run: the next run must find the memory free.
    assert torch.cuda.memory_allocated() < 2**30
    torch.ones(1, device=CUDA).sum().item()


def test_a_huge_learning_rate_stops_with_the_nan_message(colour_data, tmp_path) -> None:
    config = cuda_config(colour_data, optimizer="sgd", lr=1e6, epochs=2)
    with pytest.raises(TrainingFailed, match=r"the loss became (nan|inf).*lower learning rate"):
        _train(config, tmp_path)


def test_resume_on_cuda_matches_an_uninterrupted_run(colour_data: Path, tmp_path) -> None:
    """As on CPU, within cuDNN's run-to-run noise: its autotuned kernels may add in another
    order from one process to the next (1e-3 on losses near 0.7)."""
    config = cuda_config(colour_data, epochs=3)
    _w, _t, whole = _train(config, tmp_path, "whole")
    control = Control()

    def stop_in_epoch_2(event) -> None:
        if isinstance(event, BatchEnd) and (event.epoch, event.batch) == (2, 1):
            control.stop.set()

    run, _t, first = _train(config, tmp_path, "split", callback=stop_in_epoch_2, control=control)
    assert first["stopped"] and first["epochs"] == 1
    resumed = Trainer(config, run).run(resume=True)
    assert resumed["epochs"] == 3
    for a, b in zip(whole["history"], resumed["history"], strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-3)
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-3)


@pytest.fixture
def cuda_run(colour_data: Path, tmp_path: Path) -> Path:
    run, _trainer, _summary = _train(cuda_config(colour_data, epochs=2), tmp_path, "trained")
    return run.path


def test_bf16_prediction_agrees_with_fp32(cuda_run: Path, colour_data: Path) -> None:
    """Same class for every image; probabilities within 0.02 (bf16 keeps 8 bits of mantissa:
    logits differ by about 1%)."""
    from gender_desktop.ml.predictor import Predictor

    predictor = Predictor.from_run(cuda_run, "cuda")
    assert predictor.amp
    from gender_desktop.data.dataset import open_dataset
    from gender_desktop.ml.pipeline import DecodedImages

    squares = np.asarray(DecodedImages.build(open_dataset(colour_data), predictor.size).array)
    mixed = predictor.predict_arrays(squares)
    predictor.amp = False
    full = predictor.predict_arrays(squares)
    assert np.array_equal(mixed > 0.5, full > 0.5)
    assert np.abs(mixed - full).max() < 0.02


def test_grad_cam_on_cuda(cuda_run: Path) -> None:
    from gender_desktop.ml.predictor import Predictor

    predictor = Predictor.from_run(cuda_run, "cuda")
    square = np.zeros((predictor.size, predictor.size, 3), np.uint8)
    square[:, : predictor.size // 2] = (200, 60, 60)
    p_male, heat = predictor.grad_cam(square)
    on_cpu = Predictor.from_run(cuda_run, "cpu").grad_cam(square)
    assert 0 <= p_male <= 1 and heat.shape == (predictor.size, predictor.size)
    assert heat.dtype == np.float32 and heat.min() >= 0 and heat.max() <= 1
    assert p_male == pytest.approx(on_cpu[0], abs=5e-3)  # TF32 convolutions on the GPU
    assert np.abs(heat - on_cpu[1]).mean() < 0.05


def test_export_from_a_cuda_trained_run(cuda_run: Path, tmp_path: Path) -> None:
    """The exported files are device-free: TorchScript and ONNX verified against the model."""
    from gender_desktop.ml.export import export_run

    formats = ["torchscript"]
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401

        formats.append("onnx")
    except ImportError:
        pass
    results = export_run(cuda_run, formats, tmp_path / "export")
    assert [r.format for r in results] == formats
    for result in results:
        assert result.path.is_file() and result.path.stat().st_size > 1000
        assert result.max_abs_diff < 1e-3  # verified against the model by export_run
    loaded = torch.jit.load(str(results[0].path), map_location="cpu")
    logit, p_male = loaded(torch.zeros(2, 3, 32, 32))
    assert logit.shape[0] == p_male.shape[0] == 2 and bool(((p_male >= 0) & (p_male <= 1)).all())


def test_nvjpeg_decoding_matches_the_cpu_path(colour_data: Path) -> None:
    from gender_desktop.data.dataset import open_dataset
    from gender_desktop.data.images import decode_chunk

    assert gpu_decode.wanted("cuda")
    ds = open_dataset(colour_data)
    items = [(i, ds.read_bytes(i), ds.display_path(i)) for i in range(len(ds))]
    cpu = dict(decode_chunk((items, 48)))
    gpu = dict(gpu_decode.decode_chunk_on(items, 48, "cuda"))
    assert sorted(gpu) == sorted(cpu)
    for pos, value in gpu.items():
        assert value.shape == cpu[pos].shape == (48, 48, 3) and value.dtype == np.uint8
        assert np.abs(value.astype(int) - cpu[pos].astype(int)).mean() < 4.0


def test_nvjpeg_takes_a_grey_jpeg_as_rgb_and_refuses_a_truncated_one_as_the_cpu_does() -> None:
    """nvjpeg must not turn a cut-off file into an image of garbage where the CPU path names
    it unreadable, and a one-channel JPEG comes out as three channels like Pillow's."""
    import io

    from PIL import Image

    from gender_desktop.data.images import decode_chunk

    def jpeg(mode: str) -> bytes:
        buffer = io.BytesIO()
        Image.new(mode, (64, 80), 128 if mode == "L" else (200, 40, 40)).save(buffer, "JPEG")
        return buffer.getvalue()

    whole = jpeg("RGB")
    items = [(0, jpeg("L"), "grey.jpg"), (1, whole, "whole.jpg"), (2, whole[:300], "cut.jpg")]
    cpu = dict(decode_chunk((items, 48)))
    gpu = dict(gpu_decode.decode_chunk_on(items, 48, "cuda"))
    assert gpu[0].shape == cpu[0].shape == (48, 48, 3)
    assert np.abs(gpu[0].astype(int) - cpu[0].astype(int)).mean() < 4.0
    assert isinstance(cpu[2], str) and isinstance(gpu[2], str)  # named unreadable, both ways


def _ddp_available() -> bool:
    help_text = subprocess.run(
        [sys.executable, "-m", "gender_desktop", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return "--ddp" in help_text


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_two_gpu_ddp_run_completes(colour_data: Path, tmp_path: Path) -> None:
    if not _ddp_available():
        pytest.skip("this checkout's train command has no --ddp yet")
    runs = tmp_path / "runs"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "-m", "gender_desktop", "train", "--data", str(colour_data), "--ddp", "--device", "cuda",
        "--backbone", "resnet18", "--weights", "random", "--input-size", "32",
        "--hidden", "16", "--epochs", "2", "--batch-size", "16", "--runs-dir", str(runs),
        "--no-track",
    ]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ}, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    folders = [p for p in runs.iterdir() if (p / "last.pt").exists()]
    assert len(folders) == 1
    metrics = (folders[0] / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 3  # header + two epochs
