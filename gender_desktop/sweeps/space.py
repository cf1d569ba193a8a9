"""The sweep space: which settings vary and over what, as ``key=values`` specs.

A spec is what the CLI takes after ``--grid`` and what each field of the GUI's sweep dialog
holds: a list (``lr=1e-3,1e-4``, ``batch=32,64,128``, ``scope=head,last_block``,
``hidden=128,256-128`` where a dash separates the head's layers, ``flip=on,off``) or, for a
number, a range ``low:high`` with ``:log`` (sampled on a log scale) or ``:int`` (whole numbers):
``lr=1e-5:1e-2:log``, ``dropout=0.2:0.6``, ``epochs=5:20:int``.

:data:`KEYS` is the one table of keys: the setting each one changes, its kind, and the help the
CLI's ``--help`` and the GUI's dialog show. :func:`apply` makes a trial's settings from the base
settings and a trial's values; when the sweep varies the backbone, settings left at the base
backbone's defaults follow each backbone's own defaults (see :func:`apply`).

Torch- and Optuna-free: the GUI counts the runs of a space as the user types.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gender_desktop.errors import UserError
from gender_desktop.ml import backbones
from gender_desktop.ml.config import (
    OPTIMIZERS,
    POOLINGS,
    SCHEDULES,
    SCOPES,
    ConfigError,
    TrainConfig,
)

FLOAT, INT, CHOICE, BOOL, LAYERS = "float", "int", "choice", "bool", "layers"
Value = float | int | str | bool  # what Optuna stores: hidden layers as "256-128", none as "none"


class SpaceError(UserError, ValueError):
    """A spec cannot be read; the message quotes the spec and says what is wrong."""


@dataclass(frozen=True)
class Key:
    name: str  # the key in a spec: lr=...
    field: str  # the TrainConfig setting: "lr", "model.hidden", "augment.flip"
    kind: str  # FLOAT, INT, CHOICE, BOOL or LAYERS
    help: str  # one line for --help and the dialog's tooltips
    choices: tuple[str, ...] = ()  # CHOICE: the allowed values (scope also takes from:<block>)
    example: str = ""  # a spec that shows the syntax

    @property
    def numeric(self) -> bool:
        return self.kind in (FLOAT, INT)


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("lr", "lr", FLOAT, "learning rate", example="lr=1e-3,1e-4 or lr=1e-5:1e-2:log"),
        Key("batch", "batch_size", INT, "images per training step", example="batch=32,64,128"),
        Key(
            "scope",
            "model.scope",
            CHOICE,
            "what trains: head, last_block, all or from:<block>",
            SCOPES,
            "scope=head,last_block",
        ),
        Key(
            "optimizer", "optimizer", CHOICE, "SGD, Adam or AdamW", OPTIMIZERS, "optimizer=sgd,adam"
        ),
        Key("weight_decay", "weight_decay", FLOAT, "L2 penalty", example="weight_decay=0,1e-4"),
        Key("momentum", "momentum", FLOAT, "SGD momentum", example="momentum=0.8,0.9"),
        Key("dropout", "model.dropout", FLOAT, "dropout in the head", example="dropout=0.2:0.6"),
        Key(
            "hidden",
            "model.hidden",
            LAYERS,
            "the head's hidden layers (a dash separates layers, none for no hidden layer)",
            example="hidden=128,256-128,none",
        ),
        Key("pooling", "model.pooling", CHOICE, "avg, max or flatten", POOLINGS, "pooling=avg,max"),
        Key(
            "rotation", "augment.rotation", FLOAT, "max rotation, degrees", example="rotation=0,15"
        ),
        Key("zoom", "augment.zoom", FLOAT, "max zoom in/out, fraction", example="zoom=0,0.1"),
        Key(
            "brightness",
            "augment.brightness",
            FLOAT,
            "max brightness change, fraction",
            example="brightness=0,0.2",
        ),
        Key("flip", "augment.flip", BOOL, "horizontal flips (on/off)", example="flip=on,off"),
        Key(
            "backbone",
            "model.backbone",
            CHOICE,
            "the network under the head",
            backbones.NAMES,
            "backbone=resnet18,levi_hassner",
        ),
        Key("input_size", "model.input_size", INT, "pixels", example="input_size=128,224"),
        Key("epochs", "epochs", INT, "passes over the train split", example="epochs=5:20:int"),
        Key(
            "schedule",
            "schedule",
            CHOICE,
            "learning-rate schedule",
            SCHEDULES,
            "schedule=none,cosine",
        ),
    )
}
ALIASES = {"batch_size": "batch", "learning_rate": "lr", "size": "input_size", "wd": "weight_decay"}
_TRUE, _FALSE = ("on", "true", "yes", "1"), ("off", "false", "no", "0")
NO_LAYERS = "none"


@dataclass(frozen=True)
class Param:
    """One key of the space: a list of ``values`` or a range ``low``..``high``."""

    key: str
    values: tuple[Value, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.low is not None

    @property
    def size(self) -> int | None:
        """How many values a grid takes from it (None: a range, which a grid cannot take)."""
        return None if self.is_range else len(self.values)

    @property
    def text(self) -> str:
        """The spec in its canonical spelling (stored with the study to compare workers)."""
        if self.is_range:
            flags = (":int" if self.integer else "") + (":log" if self.log else "")
            return f"{self.key}={format_value(self.low)}:{format_value(self.high)}{flags}"
        return f"{self.key}=" + ",".join(format_value(v) for v in self.values)


def format_value(value: Any, short: bool = False) -> str:
    """A value as a spec writes it: 0.001, 32, head, on, 256-128. Floats in full (the
    canonical text must read back as the same value), or ``short`` (``%g``) for run names."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}" if short else repr(value)
    return str(value)


def describe(params: Mapping[str, Any]) -> str:
    """A trial's values in a line, for run names and progress: ``lr=0.001 batch=32``."""
    order = list(KEYS)
    keys = sorted(params, key=lambda k: order.index(k) if k in order else len(order))
    return " ".join(f"{k}={format_value(params[k], short=True)}" for k in keys)


# -- parsing --------------------------------------------------------------------------------------
def parse_space(specs: Iterable[str]) -> tuple[Param, ...]:
    """Every spec parsed; a key given twice is refused (which of the two was meant?)."""
    params: list[Param] = []
    for spec in specs:
        param = parse_param(spec)
        if any(p.key == param.key for p in params):
            raise SpaceError(f"{spec!r}: {param.key} is given twice; give its values in one spec")
        params.append(param)
    return tuple(params)


def parse_param(spec: str) -> Param:
    """One ``key=values`` spec; a :class:`SpaceError` quotes it and says what is wrong."""
    name, sep, body = spec.partition("=")
    if not sep or not name.strip():
        raise SpaceError(f"{spec!r}: a spec is key=values, e.g. lr=1e-3,1e-4 ({known_keys()})")
    key = _key(name, spec)
    body = body.strip()
    if not body:
        raise SpaceError(f"{spec!r}: no values after '='; e.g. {key.example}")
    if key.numeric and ":" in body:
        param = _parse_range(key, body, spec)
        for bound in (param.low, param.high):
            check_value(key.name, int(bound) if param.integer else bound, spec)
        return param
    texts = [t.strip() for t in body.split(",")]
    if any(not t for t in texts):
        raise SpaceError(f"{spec!r}: an empty value between commas")
    values = tuple(_parse_value(key, t, spec) for t in texts)
    if len(set(values)) < len(values):
        raise SpaceError(f"{spec!r}: a value is listed twice")
    for value in values:
        check_value(key.name, value, spec)
    return Param(key.name, values)


def known_keys() -> str:
    return "keys: " + ", ".join(KEYS)


def _key(name: str, spec: str) -> Key:
    normal = name.strip().lower().replace("-", "_")
    normal = ALIASES.get(normal, normal)
    if normal not in KEYS:
        raise SpaceError(f"{spec!r}: unknown key {name.strip()!r}; {known_keys()}")
    return KEYS[normal]


def _parse_range(key: Key, body: str, spec: str) -> Param:
    parts = [p.strip() for p in body.split(":")]
    flags = {p.lower() for p in parts[2:]}
    if len(parts) < 2 or len(parts) > 4 or not flags <= {"log", "int"}:
        raise SpaceError(
            f"{spec!r}: a range is low:high, optionally with :log and/or :int "
            f"(e.g. {key.name}=1e-5:1e-2:log)"
        )
    low, high = (_number(p, spec) for p in parts[:2])
    integer = key.kind == INT or "int" in flags
    if integer and not (low.is_integer() and high.is_integer()):
        raise SpaceError(f"{spec!r}: {key.name} takes whole numbers, so its range must too")
    if not low < high:
        raise SpaceError(f"{spec!r}: the range's low end must be below its high end")
    if "log" in flags and low <= 0:
        raise SpaceError(f"{spec!r}: a log range must start above 0")
    return Param(key.name, (), low, high, "log" in flags, integer)


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpaceError(f"{spec!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SpaceError(f"{spec!r}: {text!r} is not a finite number")
    return value


def _parse_value(key: Key, text: str, spec: str) -> Value:
    if key.kind == FLOAT:
        return _number(text, spec)
    if key.kind == INT:
        value = _number(text, spec)
        if not value.is_integer():
            raise SpaceError(f"{spec!r}: {key.name} takes whole numbers, not {text!r}")
        return int(value)
    if key.kind == BOOL:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise SpaceError(f"{spec!r}: {key.name} is on or off, not {text!r}")
    if key.kind == LAYERS:
        return _parse_layers(text, spec)
    if text in key.choices or (key.name == "scope" and text.startswith("from:") and text[5:]):
        return text
    extra = " or from:<block>" if key.name == "scope" else ""
    raise SpaceError(
        f"{spec!r}: {text!r} is not a {key.name}; choose from {', '.join(key.choices)}{extra}"
    )


def _parse_layers(text: str, spec: str) -> str:
    if text.lower() in (NO_LAYERS, "0"):
        return NO_LAYERS
    units = text.split("-")
    if not all(u.strip().isdigit() for u in units):
        raise SpaceError(
            f"{spec!r}: hidden layers are whole numbers separated by dashes (256-128), or "
            f"none; not {text!r}"
        )
    return "-".join(str(int(u)) for u in units)


def layers(value: str) -> tuple[int, ...]:
    return () if value == NO_LAYERS else tuple(int(u) for u in value.split("-"))


def check_value(key: str, value: Value, spec: str) -> None:
    """A value the settings would refuse whatever else the trial holds (``lr=-1``,
    ``dropout=1.5``) is refused now, naming the spec, rather than as a failed trial."""
    try:
        apply(TrainConfig(data="."), {key: value})
    except ConfigError as exc:
        raise SpaceError(f"{spec!r}: {format_value(value, True)} is refused: {exc}") from None


# -- a trial's settings -------------------------------------------------------------------------
def apply(base: TrainConfig, params: Mapping[str, Any]) -> TrainConfig:
    """``base`` with a trial's values set, validated (a :class:`ConfigError` says why not).

    When the trial sets the backbone, the starting weights, scope and input size that the base
    left at its own backbone's defaults take the trial's backbone's defaults (a sweep over
    ``backbone=resnet18,levi_hassner`` trains Levi & Hassner's CNN from random weights, all
    layers, at 227 px), and ImageNet weights, which a backbone without them cannot start from,
    become random weights. Any other combination the settings refuse is the trial's failure.
    """
    config = copy.deepcopy(base)
    for name, value in params.items():
        key = KEYS[name]
        target: Any = config
        *path, field = key.field.split(".")
        for part in path:
            target = getattr(target, part)
        setattr(target, field, layers(value) if key.kind == LAYERS else value)
    if "backbone" in params:
        _follow_backbone(config, base, params)
    config.validate()
    return config


def _follow_backbone(config: TrainConfig, base: TrainConfig, params: Mapping[str, Any]) -> None:
    old = backbones.get(base.model.backbone)
    new = backbones.get(config.model.backbone)
    if base.weights == old.default_weights or (config.weights == "imagenet" and not new.pretrained):
        config.weights = new.default_weights
    if "scope" not in params and base.model.scope == old.default_scope:
        config.model.scope = new.default_scope
    if "input_size" not in params and base.model.input_size == old.default_input_size:
        config.model.input_size = new.default_input_size
