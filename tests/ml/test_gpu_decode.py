"""The batched JPEG decode (nvjpeg on CUDA) shapes images as the CPU path does: run here with
torchvision's CPU decoder standing in for nvjpeg (tests/cuda compares the real one), with
every file it must not take (PNG, EXIF, broken) decoded, or refused, by the CPU path."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from gender_desktop.data.images import decode_chunk, square
from gender_desktop.ml import gpu_decode


def photo(seed: int, size=(178, 218), fmt: str = "JPEG", exif: bool = False) -> bytes:
    """A smooth face-sized picture (gradients and blobs, as photos are, not noise)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    channels = [np.sin(xx * rng.uniform(2, 6) + yy * rng.uniform(2, 6) + k) for k in range(3)]
    arr = ((np.stack(channels, -1) + 1) * 127.5).astype(np.uint8)
    img, buf = Image.fromarray(arr), io.BytesIO()
    if exif:
        tags = Image.Exif()
        tags[0x0112] = 6  # rotated: the CPU path turns it upright
        img.save(buf, fmt, quality=92, exif=tags.tobytes())
    else:
        img.save(buf, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buf.getvalue()


def test_only_plain_jpegs_go_to_the_batch_decoder() -> None:
    assert gpu_decode.gpu_decodable(photo(0))
    assert not gpu_decode.gpu_decodable(photo(0, fmt="PNG"))
    assert not gpu_decode.gpu_decodable(photo(0, exif=True))
    assert not gpu_decode.gpu_decodable(b"")


@pytest.mark.parametrize("size", [(178, 218), (300, 120), (40, 50)])
def test_the_square_matches_pillows_within_two_levels(size) -> None:
    """Same decoded pixels in, the resize + centre crop out: the tensor version agrees with
    :func:`square` (Pillow's bilinear) to within rounding, growing and shrinking alike."""
    img = Image.open(io.BytesIO(photo(1, size))).convert("RGB")
    expected = square(img, 64)
    tensor = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
    got = gpu_decode.square_tensor(tensor, 64).permute(1, 2, 0).numpy()
    assert got.shape == expected.shape == (64, 64, 3) and got.dtype == np.uint8
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.mean() < 1.0 and diff.max() <= 8


def test_a_mixed_chunk_is_decoded_like_the_cpu_path() -> None:
    items = [
        (0, photo(2), "a.jpg"),
        (1, photo(3, fmt="PNG"), "b.png"),
        (2, photo(4, exif=True), "c.jpg"),
        (3, photo(5, (218, 178)), "d.jpg"),
        (4, b"not an image at all", "e.jpg"),
    ]
    cpu = dict(decode_chunk((items, 48)))
    batched = gpu_decode.decode_chunk_on(items, 48, "cpu")
    assert [pos for pos, _ in batched] == [0, 1, 2, 3, 4]
    for pos, value in batched:
        if pos == 4:
            assert isinstance(value, str) and value == cpu[4]
            continue
        assert value.shape == cpu[pos].shape == (48, 48, 3)
        assert np.abs(value.astype(int) - cpu[pos].astype(int)).mean() < 3.0
    assert np.array_equal(dict(batched)[2], cpu[2])  # EXIF: the CPU's own, rotated upright


def test_a_broken_jpeg_in_the_batch_falls_back_to_the_cpu_and_is_named() -> None:
    good, broken = photo(6), photo(7)[:300] + b"\xff\xd9"  # truncated but well-marked
    items = [(0, good, "good.jpg"), (1, broken, "broken.jpg")]
    results = dict(gpu_decode.decode_chunk_on(items, 32, "cpu"))
    assert results[0].shape == (32, 32, 3)
    assert results[1] == dict(decode_chunk((items, 32)))[1]


def test_the_switch_and_a_machine_without_cuda_keep_the_cpu_workers(monkeypatch) -> None:
    monkeypatch.setenv(gpu_decode.GPU_DECODE_ENV, "0")
    assert not gpu_decode.wanted("cuda")
    monkeypatch.delenv(gpu_decode.GPU_DECODE_ENV)
    assert gpu_decode.wanted("cuda") == torch.cuda.is_available()
    # a run on the CPU (or with no device named: evaluation, k-fold) never touches a GPU
    assert not gpu_decode.wanted("cpu") and not gpu_decode.wanted(None)


def test_building_the_cache_on_the_gpu_path_sends_what_nvjpeg_cannot_take_to_the_workers(
    tmp_path, monkeypatch
) -> None:
    """The whole build as a CUDA run does it (the CPU decoder stands in for nvjpeg): JPEGs
    batched, the other formats decoded by the worker processes, the cache as the CPU build's
    (the same pixels where the workers decoded, within a few levels where the batch did)."""
    from builders import folder_per_class

    from gender_desktop.data.dataset import open_dataset
    from gender_desktop.ml import pipeline

    dataset = open_dataset(folder_per_class(tmp_path / "data", 300))  # 1 in 4 a JPEG; a pool
    cpu_built = pipeline.DecodedImages.build(dataset, 32, 2, folder=tmp_path / "cpu")
    pooled: list[int] = []
    real_pooled = pipeline._pooled
    monkeypatch.setattr(gpu_decode, "wanted", lambda device: True)
    monkeypatch.setattr(pipeline, "_pooled", lambda *a: pooled.append(len(a[2])) or real_pooled(*a))
    gpu_built = pipeline.DecodedImages.build(
        dataset, 32, 2, folder=tmp_path / "gpu", decode_device=torch.device("cpu")
    )
    jpeg = np.array([dataset.display_path(i).endswith(".jpg") for i in range(len(dataset))])
    assert sum(pooled) == int((~jpeg).sum()) == 225  # the other formats, and only they
    assert gpu_built.errors == cpu_built.errors == {}
    gpu, cpu = np.asarray(gpu_built.array).astype(int), np.asarray(cpu_built.array).astype(int)
    assert np.array_equal(gpu[~jpeg], cpu[~jpeg])
    assert np.abs(gpu[jpeg] - cpu[jpeg]).mean() < 4.0
