"""The comparison of runs: the notebooks' table, the settings that differ, the curves, and the
significance of pairs evaluated on the same test images (or why a pair is not comparable)."""

from __future__ import annotations

from pathlib import Path

import pytest
from runfiles import write_evaluation, write_run

from gender_desktop.errors import UserError
from gender_desktop.ml.config import ModelConfig
from gender_desktop.runs.compare import compare, differing_keys, flatten
from gender_desktop.runs.meta import update_meta

A_RIGHT = [True] * 90 + [False] * 10
B_RIGHT = [True] * 80 + [False] * 10 + [True] * 2 + [False] * 8  # b=10, c=2 against A


def test_table_diff_and_curves(tmp_path: Path) -> None:
    a = write_run(
        tmp_path, "a", lr=1e-3, batch_size=32, correct=A_RIGHT, val_accuracy=[0.5, 0.6, 0.7]
    )
    b = write_run(tmp_path, "b", lr=1e-4, batch_size=32, correct=B_RIGHT)
    update_meta(b.path, title="slow")
    result = compare([a.path, b.path])
    assert result.names == ["a", "slow"]
    assert result.differing == ["lr"]
    assert [row.configuration for row in result.rows] == ["lr=0.001", "lr=0.0001"]
    assert [row.cells() for row in result.rows] == [
        ["lr=0.001", 0.9, 0.9, 0.9, 0.9, 30.0],
        # 9 of 50 males and 9 of 50 females wrong: tp=41, fp=9, so precision = recall = 0.82
        ["lr=0.0001", 0.82, 0.82, 0.82, 0.82, 30.0],
    ]
    assert result.rows[0].accuracy_ci[0] < 0.9 < result.rows[0].accuracy_ci[1]
    assert result.curves[0].val_accuracy == [0.5, 0.6, 0.7] and result.curves[0].epoch == [1, 2, 3]
    (pair,) = result.pairs
    assert (pair.result.b, pair.result.c, pair.result.n) == (10, 2, 100)
    assert pair.sentence == "a is better than slow by 8.0 points (95% CI 1.1 to 14.6), p = 0.04"
    as_json = result.to_dict()
    assert as_json["differing_settings"] == {"lr": [0.001, 0.0001]}
    assert as_json["significance"][0]["p_value"] == pytest.approx(0.0385742, abs=1e-6)


def test_pairs_that_cannot_be_compared_say_why(tmp_path: Path) -> None:
    evaluated = write_run(tmp_path, "evaluated", correct=A_RIGHT)
    never = write_run(tmp_path, "never")
    other = write_run(tmp_path, "other", correct=A_RIGHT, fingerprint="0000other00000000000")
    on_val = write_run(tmp_path, "on-val", correct=A_RIGHT, split="val")
    sentences = [
        p.sentence for p in compare([evaluated.path, never.path, other.path, on_val.path]).pairs
    ]
    assert sentences[0] == "evaluated and never cannot be compared: never has not been evaluated"
    assert sentences[1].endswith(
        "they were evaluated on different datasets (or different versions of one)"
    )
    assert sentences[2].endswith("on-val's evaluation is of the val split, not test")


def test_pairing_is_by_image_id_and_leaves_out_what_only_one_has(tmp_path: Path) -> None:
    a = write_run(tmp_path, "a", correct=A_RIGHT)
    b = write_run(tmp_path, "b")
    write_evaluation(b, B_RIGHT[:60])  # b predicted only the first 60 images
    (pair,) = compare([a.path, b.path]).pairs
    assert pair.result.n == 60 and "40 images only one run predicted left out" in pair.sentence


def test_flatten_and_differing_keys() -> None:
    settings = [
        flatten({"lr": 1, "model": {"backbone": "vgg16", "hidden": [128]}, "workers": 2}),
        flatten({"lr": 1, "model": {"backbone": "resnet50", "hidden": [128]}, "workers": 4}),
    ]
    assert settings[0] == {"lr": 1, "model.backbone": "vgg16", "model.hidden": [128], "workers": 2}
    assert differing_keys(settings) == ["model.backbone"]  # workers is not a setting of the model


def test_a_folder_that_is_not_a_run_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a run folder"):
        compare([tmp_path])
    model = ModelConfig(backbone="vgg16", input_size=32)
    only = write_run(tmp_path, "one", model=model)
    assert compare([only.path]).pairs == []
