"""The sweep space as users type it: lists, ranges, the key table, and messages that quote the
spec that is wrong."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gender_desktop.ml import backbones
from gender_desktop.ml.config import ConfigError, ModelConfig, TrainConfig
from gender_desktop.sweeps.space import (
    KEYS,
    Param,
    SpaceError,
    apply,
    describe,
    parse_param,
    parse_space,
)
from gender_desktop.sweeps.spec import SweepSpec, count_runs, grid_points


def test_lists_of_every_kind_parse_to_typed_values() -> None:
    space = parse_space(
        [
            "lr=1e-3,1e-4",
            "batch=32,64,128",
            "scope=head,last_block,from:layer3",
            "backbone=resnet18,levi_hassner",
            "hidden=128,256-128,none",
            "flip=on,off",
        ]
    )
    values = {p.key: p.values for p in space}
    assert values == {
        "lr": (1e-3, 1e-4),
        "batch": (32, 64, 128),
        "scope": ("head", "last_block", "from:layer3"),
        "backbone": ("resnet18", "levi_hassner"),
        "hidden": ("128", "256-128", "none"),
        "flip": (True, False),
    }
    assert [p.text for p in space][:2] == ["lr=0.001,0.0001", "batch=32,64,128"]


def test_ranges_parse_with_log_and_int_flags() -> None:
    lr, dropout, epochs = parse_space(["lr=1e-5:1e-2:log", "dropout=0.2:0.6", "epochs=5:20:int"])
    assert (lr.low, lr.high, lr.log, lr.integer) == (1e-5, 1e-2, True, False)
    assert (dropout.low, dropout.high, dropout.log) == (0.2, 0.6, False)
    assert (epochs.low, epochs.high, epochs.integer) == (5, 20, True)
    assert epochs.size is None and lr.text == "lr=1e-05:0.01:log"


def test_aliases_and_dashes_name_the_same_key() -> None:
    assert parse_param("batch_size=8").key == "batch"
    assert parse_param("input-size=64,96").key == "input_size"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("lr", "a spec is key=values"),
        ("speed=1,2", "unknown key 'speed'"),
        ("lr=", "no values"),
        ("lr=1e-3,,1e-4", "empty value"),
        ("lr=fast", "'fast' is not a number"),
        ("batch=32.5", "whole numbers"),
        ("scope=everything", "choose from head, last_block, all"),
        ("backbone=alexnet", "choose from vgg16"),
        ("flip=maybe", "on or off"),
        ("hidden=128-x", "separated by dashes"),
        ("lr=1e-2:1e-5", "low end must be below"),
        ("dropout=0:0.5:log", "log range must start above 0"),
        ("lr=1:2:3", "a range is low:high"),
        ("epochs=1.5:3", "whole numbers"),
        ("lr=1e-3,1e-3", "listed twice"),
        ("lr=-1", "learning rate must be positive"),
        ("dropout=0.2:1.5", "dropout must be in [0, 1)"),
        ("scope=head:x", "not a scope"),
    ],
)
def test_a_bad_spec_is_refused_with_its_text_and_the_problem(spec: str, words: str) -> None:
    with pytest.raises(SpaceError) as caught:
        parse_space([spec])
    assert repr(spec) in str(caught.value)
    assert words in str(caught.value)


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(SpaceError, match="lr is given twice"):
        parse_space(["lr=1e-3", "learning_rate=1e-4"])


def test_every_key_maps_to_a_real_setting_and_has_help() -> None:
    config = TrainConfig(data=".")
    for key in KEYS.values():
        target = config
        for part in key.field.split("."):
            target = getattr(target, part)  # raises if the table names no setting
        assert key.help and key.example.startswith(key.name + "=")
        parse_param(key.example.split(" or ")[0])  # every example parses


def test_backbone_choices_come_from_the_backbone_table() -> None:
    assert KEYS["backbone"].choices == backbones.NAMES


@given(st.lists(st.floats(1e-7, 10, allow_nan=False), min_size=1, max_size=5, unique=True))
def test_any_list_of_learning_rates_round_trips(rates: list[float]) -> None:
    spec = "lr=" + ",".join(repr(r) for r in rates)
    param = parse_param(spec)
    assert param.values == tuple(rates)
    assert parse_param(param.text) == param  # the canonical text reads back exactly


@given(
    st.lists(
        st.lists(st.integers(1, 4096), min_size=1, max_size=3).map(tuple),
        min_size=1,
        max_size=4,
        unique=True,
    )
)
def test_any_list_of_head_shapes_round_trips(shapes: list[tuple[int, ...]]) -> None:
    spec = "hidden=" + ",".join("-".join(map(str, s)) for s in shapes)
    values = parse_param(spec).values
    base = TrainConfig(data=".")
    assert [apply(base, {"hidden": v}).model.hidden for v in values] == shapes


@given(st.integers(1, 500), st.integers(1, 500))
def test_int_ranges_keep_their_bounds(a: int, b: int) -> None:
    low, high = sorted((a, b))
    if low == high:
        with pytest.raises(SpaceError):
            parse_param(f"epochs={low}:{high}")
        return
    param = parse_param(f"epochs={low}:{high}")
    assert (param.low, param.high, param.integer) == (low, high, True)


def test_apply_sets_nested_settings_and_leaves_the_base_alone() -> None:
    base = TrainConfig(data=".", model=ModelConfig(backbone="resnet18"))
    config = apply(
        base, {"lr": 1e-4, "batch": 64, "scope": "head", "hidden": "256-128", "flip": False}
    )
    assert (config.lr, config.batch_size, config.model.scope) == (1e-4, 64, "head")
    assert config.model.hidden == (256, 128) and config.augment.flip is False
    assert base.lr == 1e-3 and base.model.hidden == (128,) and base.augment.flip is True


def test_a_backbone_without_imagenet_weights_takes_its_own_defaults() -> None:
    base = TrainConfig(data=".", model=ModelConfig(backbone="resnet18", scope="last_block"))
    levi = apply(base, {"backbone": "levi_hassner"})
    entry = backbones.get("levi_hassner")
    assert (levi.weights, levi.model.scope, levi.model.input_size) == (
        "random",
        entry.default_scope,
        entry.default_input_size,
    )
    # a scope the sweep sets itself is kept
    assert apply(base, {"backbone": "levi_hassner", "scope": "head"}).model.scope == "head"


def test_a_combination_the_settings_refuse_is_a_config_error() -> None:
    base = TrainConfig(data=".", model=ModelConfig(backbone="resnet18", input_size=40))
    with pytest.raises(ConfigError, match="input size must be between 63"):
        apply(base, {"backbone": "levi_hassner"})


def test_describe_names_a_trial_in_the_table_order() -> None:
    assert describe({"batch": 32, "lr": 1e-3, "flip": True}) == "lr=0.001 batch=32 flip=on"


def _spec(specs: list[str], **changes) -> SweepSpec:
    return SweepSpec(base=TrainConfig(data="/data/faces"), space=parse_space(specs), **changes)


def test_count_runs_is_the_grid_product_or_the_trials() -> None:
    assert count_runs(_spec(["lr=1e-3,1e-4", "batch=32,64,128"])) == 6
    assert count_runs(_spec(["lr=1e-5:1e-2:log"], sampler="tpe", trials=12)) == 12
    points = grid_points(_spec(["lr=1e-3,1e-4", "batch=32,64"]).space)
    assert points[:2] == [{"lr": 1e-3, "batch": 32}, {"lr": 1e-3, "batch": 64}]


def test_a_grid_refuses_ranges_and_a_sampler_needs_trials() -> None:
    with pytest.raises(SpaceError, match=re.escape("'lr=1e-05:0.01:log': a grid takes lists")):
        _spec(["lr=1e-5:1e-2:log"]).validate()
    with pytest.raises(SpaceError, match="--trials"):
        _spec(["lr=1e-5:1e-2:log"], sampler="random").validate()


def test_the_default_study_name_follows_the_command() -> None:
    a = _spec(["lr=1e-3,1e-4"]).study_name()
    assert a == _spec(["lr=0.001,0.0001"]).study_name() and a.startswith("faces-")
    assert a != _spec(["lr=1e-3,1e-5"]).study_name()
    assert _spec(["lr=1e-3"], study="mine").study_name() == "mine"
    # a worker's own paths and device do not make it another sweep
    other = _spec(["lr=1e-3,1e-4"])
    other.base.device = "cpu"
    assert other.study_name() == a


def test_params_are_hashable_and_frozen() -> None:
    assert hash(Param("lr", (1e-3,))) == hash(Param("lr", (1e-3,)))


def test_the_space_loads_neither_torch_nor_optuna() -> None:
    """The GUI's sweep dialog counts runs as the user types, on its own thread."""
    import subprocess
    import sys

    code = (
        "import sys; import gender_desktop.sweeps.space, gender_desktop.sweeps.spec, "
        "gender_desktop.sweeps.events, gender_desktop.cli; "
        "print(sorted(m for m in ('torch', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
