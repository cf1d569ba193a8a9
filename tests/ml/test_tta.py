"""Test-time augmentation: flip and ten-crop average the probabilities of their views, each view
one forward pass, and the CLI's --tta reaches every row it writes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import builders
import numpy as np
import pytest
import torch
from setups import tiny_config, train_in_own_home
from torchvision.transforms.v2 import functional as TF

from gender_desktop.cli import main
from gender_desktop.errors import UserError
from gender_desktop.ml.config import TTA_MODES
from gender_desktop.ml.models import ModelConfig
from gender_desktop.ml.predictor import TEN_CROP_SCALE, Predictor

SIZE = 32


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A head-only ResNet18 at 32 px, one epoch on 40 red/blue images: trained once."""
    root = tmp_path_factory.mktemp("tta")
    data = builders.celeba_official(root / "colours", 40)
    model = ModelConfig(backbone="resnet18", input_size=SIZE, hidden=(16,), scope="head")
    run, _summary = train_in_own_home(root, tiny_config(data, model=model, lr=1e-2, epochs=1))
    return run.path


@pytest.fixture(scope="module")
def predictor(run_dir: Path) -> Predictor:
    return Predictor.from_run(run_dir, "cpu", batch_size=4)


def squares(n: int, seed: int = 0) -> np.ndarray:
    """``n`` lopsided noisy squares: a bright left half, so an image and its mirror differ."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 120, (n, SIZE, SIZE, 3), dtype=np.uint8)
    arr[:, :, : SIZE // 2] += 120
    return arr


def count_passes(predictor: Predictor, work) -> tuple[list[int], object]:
    """The batch size of every forward pass of the model while ``work()`` runs."""
    seen: list[int] = []
    handle = predictor.model.register_forward_hook(
        lambda _m, inputs, _o: seen.append(len(inputs[0]))
    )
    try:
        result = work()
    finally:
        handle.remove()
    return seen, result


def test_flip_of_a_mirror_symmetric_image_is_the_image_alone(predictor: Predictor) -> None:
    half = squares(3)[:, :, : SIZE // 2]
    symmetric = np.ascontiguousarray(np.concatenate([half, half[:, :, ::-1]], axis=2))
    plain = predictor.predict_arrays(symmetric, tta="none")
    flipped = predictor.predict_arrays(symmetric, tta="flip")
    np.testing.assert_allclose(flipped, plain, rtol=0, atol=1e-6)


def test_flip_is_the_mean_of_the_image_and_its_mirror(predictor: Predictor) -> None:
    batch = squares(6, seed=1)
    plain = predictor.predict_arrays(batch, tta="none")
    mirrored = predictor.predict_arrays(np.ascontiguousarray(batch[:, :, ::-1]), tta="none")
    passes, flipped = count_passes(predictor, lambda: predictor.predict_arrays(batch, tta="flip"))
    assert np.abs(plain - mirrored).max() > 1e-6  # the views differ: the average means something
    np.testing.assert_allclose(flipped, (plain + mirrored) / 2, rtol=0, atol=1e-6)
    assert passes == [4, 4, 2, 2]  # two batches (batch size 4), two views each


def test_ten_crop_is_ten_passes_and_the_mean_of_the_ten_crops(predictor: Predictor) -> None:
    batch = squares(3, seed=2)
    passes, result = count_passes(
        predictor, lambda: predictor.predict_arrays(batch, tta="ten_crop")
    )
    assert passes == [3] * 10
    # By hand: enlarge, cut the four corners and the centre with slices, mirror each.
    larger = round(SIZE * TEN_CROP_SCALE)
    assert larger > SIZE
    enlarged = TF.resize(predictor._tensor(batch), [larger, larger], antialias=True)
    far = larger - SIZE
    mid = round(far / 2)

    def five(x: torch.Tensor) -> list[torch.Tensor]:
        return [
            x[..., :SIZE, :SIZE],
            x[..., :SIZE, far:],
            x[..., far:, :SIZE],
            x[..., far:, far:],
            x[..., mid : mid + SIZE, mid : mid + SIZE],
        ]

    views = five(enlarged) + five(enlarged.flip(-1))  # the crops of the image and its mirror
    with torch.no_grad():
        by_hand = torch.stack([torch.sigmoid(predictor.model(v).float()) for v in views])
    np.testing.assert_allclose(result, by_hand.mean(0).numpy(), rtol=0, atol=1e-6)
    assert np.abs(result - predictor.predict_arrays(batch, tta="none")).max() > 1e-6


def test_an_unknown_mode_is_refused_with_the_choices(run_dir: Path) -> None:
    with pytest.raises(UserError, match=r"unknown test-time augmentation 'sideways'.*ten_crop"):
        Predictor.from_run(run_dir, "cpu", tta="sideways")


def write_photos(folder: Path, n: int) -> list[Path]:
    from PIL import Image

    folder.mkdir()
    files = []
    for i, arr in enumerate(squares(n, seed=3)):
        files.append(folder / f"photo{i}.png")
        Image.fromarray(arr).save(files[-1])
    return files


def test_the_cli_flag_reaches_every_row(run_dir: Path, tmp_path: Path, capsys) -> None:
    photos = write_photos(tmp_path / "photos", 3)
    base = ["predict", "--run", str(run_dir), "--device", "cpu", str(photos[0].parent)]
    assert main([*base, "--tta", "ten_crop", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tta"] == "ten_crop" and out["run"]["tta"] == "ten_crop"
    assert [r["tta"] for r in out["rows"]] == ["ten_crop"] * 3
    assert main([*base, "--tta", "none", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["tta"] == "none" and all(r["tta"] == "none" for r in plain["rows"])
    assert [r["p_male"] for r in plain["rows"]] != [r["p_male"] for r in out["rows"]]

    table = tmp_path / "flip.csv"
    assert main([*base, "--tta", "flip", "--csv", str(table)]) == 0
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [r["tta"] for r in rows] == ["flip"] * 3


def test_a_bad_tta_value_exits_2_naming_the_choices(run_dir: Path, tmp_path: Path, capsys) -> None:
    photos = write_photos(tmp_path / "photos", 1)
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--run", str(run_dir), "--tta", "twice", str(photos[0])])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--tta: invalid choice: 'twice'" in err
    for mode in TTA_MODES:
        assert mode in err
