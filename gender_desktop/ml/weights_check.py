"""Whether a run's starting weights can be had, answered before anything is decoded (torch-free).

A default Start on a machine without ImageNet weights used to decode the dataset for half a
minute and only then say that the weights could not be downloaded. The trainer (and so the CLI)
now calls :func:`require` first, and the Train panel's plan line shows :func:`plan`: where the
weights will come from (the torch hub cache, a download, a local file, a run), their size, and
what to choose instead when they cannot be had. Nothing here imports torch, so the GUI thread
can build the plan line in microseconds; the one slow question, whether the download server
answers, is :func:`network_reachable`, which callers run off the GUI thread and cache.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from gender_desktop.errors import UserError
from gender_desktop.ml import backbones

OFFLINE_ENV = "GENDER_DESKTOP_OFFLINE"  # set: never try the network (tests, air-gapped sites)
# torchvision's download address of every file in the backbone table (a test checks that
# torchvision's own weights enums give the same URLs).
IMAGENET_BASE_URL = "https://download.pytorch.org/models/"
PROBE_TIMEOUT_S = 3.0


class WeightsUnavailable(UserError):
    """The chosen starting weights cannot be had; the message says what to do instead."""


def imagenet_file_url(backbone: str) -> str | None:
    """Where ``backbone``'s ImageNet file is downloaded from (None: it has none)."""
    file = backbones.get(backbone).imagenet_file
    return IMAGENET_BASE_URL + file if file else None


def short_path(path: Path | str) -> str:
    """``path`` with the home folder written as ``~`` (what a person reads in the plan)."""
    text, home = str(path), str(Path.home())
    return "~" + text[len(home) :] if home not in ("", "/") and text.startswith(home) else text


def size_text(size_bytes: float) -> str:
    """ "528 MB", "44.7 MB", "12 KB": a file's size in binary units (as torchvision states
    them)."""
    mb = size_bytes / 2**20
    if mb < 1:
        return f"{size_bytes / 1024:.0f} KB"
    return f"{mb:,.0f} MB" if mb >= 100 else f"{mb:.1f} MB"


def network_reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether ``url``'s server answers within ``timeout`` seconds (a HEAD request through
    urllib, so a proxy set in the environment is used as a download would use it). Blocks up to
    ``timeout``: call it from a background thread or the engine child, never the GUI thread.
    ``GENDER_DESKTOP_OFFLINE`` answers False at once."""
    if os.environ.get(OFFLINE_ENV):
        return False
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # https from the table only
            return True
    except urllib.error.HTTPError as exc:  # the server answered (HEAD refused, a redirect…)
        return exc.code != 404
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError, ValueError):
        return False  # HTTPException: a captive portal's or a broken proxy's garbled answer


def cached_backbones() -> list[backbones.Backbone]:
    """The backbones whose ImageNet file is in the torch hub cache (what can start offline)."""
    return [
        b
        for b in backbones.BACKBONES.values()
        if (f := backbones.hub_checkpoint(b.name)) and f.exists()
    ]


def alternatives(backbone: str) -> str:
    """What to choose instead of ImageNet weights that cannot be had, for the plan's tooltip
    and the error message: random initialisation, a local file, a cached backbone, a run."""
    entry = backbones.get(backbone)
    choices = ["random initialisation (train the whole network)"]
    path, url = backbones.hub_checkpoint(backbone), imagenet_file_url(backbone)
    if path is not None and url is not None:
        choices.append(
            f"a local weights file (copy {path.name} from {url} to {path}, or choose it as a "
            "local weights file anywhere)"
        )
    cached = [b.title for b in cached_backbones() if b.name != entry.name]
    if cached:
        choices.append(f"a backbone whose ImageNet weights are cached: {', '.join(cached)}")
    choices.append("a previous run's checkpoint (start from a run)")
    return "Choose instead: " + "; ".join(choices) + "."


def unavailable_message(backbone: str, reason: str = "") -> str:
    """The one message for ImageNet weights that are neither cached nor downloadable (the
    Train panel's failure, the CLI's error and the trainer's are this text)."""
    entry = backbones.get(backbone)
    path = backbones.hub_checkpoint(backbone)
    assert path is not None  # only asked for backbones that have ImageNet weights
    size = f", {size_text(entry.imagenet_mb * 2**20)}" if entry.imagenet_mb else ""
    why = f" ({reason})" if reason else ""
    return (
        f"ImageNet weights for {entry.title} ({path.name}{size}) are not in the torch hub cache "
        f"({path.parent}) and cannot be downloaded{why}. {alternatives(backbone)}"
    )


def require(backbone: str, weights: str, probe=network_reachable) -> None:
    """Refuse at once ImageNet weights that are neither cached nor downloadable (before the
    dataset is decoded). ``probe(url)`` asks the network; ``file:``/``run:``/``random`` are
    checked where they are loaded, which the trainer also does before decoding."""
    if weights != "imagenet":
        return
    path, url = backbones.hub_checkpoint(backbone), imagenet_file_url(backbone)
    if path is None or url is None:
        raise WeightsUnavailable(
            f"{backbones.get(backbone).title} has no ImageNet weights; start it from random "
            "weights or a run"
        )
    if path.exists():
        return
    if os.environ.get(OFFLINE_ENV):
        raise WeightsUnavailable(unavailable_message(backbone, f"{OFFLINE_ENV} is set"))
    if not probe(url):
        host = url.split("/")[2]
        raise WeightsUnavailable(
            unavailable_message(backbone, f"no network: {host} does not answer")
        )


@dataclass(frozen=True)
class WeightsPlan:
    """What the Train panel's plan line says about the starting weights."""

    text: str  # where they come from and their size
    available: bool | None  # None: not known until the network has answered
    advice: str = ""  # what to choose instead (the tooltip) when they cannot be had
    needs_network: bool = False  # ImageNet weights that are not cached: ask the network


def plan(backbone: str, weights: str, network: bool | None) -> WeightsPlan:
    """The weights part of the plan line; ``network`` is the cached probe's answer for the
    download server (None: not asked yet). Only cheap file checks (stat) happen here."""
    kind, _, where = weights.partition(":")
    if kind == "imagenet":
        return _imagenet_plan(backbone, network)
    if kind == "random":
        return WeightsPlan("starting from random initialisation", True)
    if kind == "file":
        return _file_plan(Path(where).expanduser()) if where else _missing("choose a weights file")
    if kind == "run":
        return _run_plan(Path(where).expanduser()) if where else _missing("choose a run folder")
    return _missing(f"unknown starting weights {weights!r}")


def _missing(text: str) -> WeightsPlan:
    return WeightsPlan(text, False)


def _imagenet_plan(backbone: str, network: bool | None) -> WeightsPlan:
    entry = backbones.get(backbone)
    path, url = backbones.hub_checkpoint(backbone), imagenet_file_url(backbone)
    if path is None or url is None:
        return WeightsPlan(f"{entry.title} has no ImageNet weights: choose random weights", False)
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    if size is not None:
        return WeightsPlan(
            f"ImageNet weights from the cache: {short_path(path)}, {size_text(size)}", True
        )
    expected = size_text((entry.imagenet_mb or 0) * 2**20)
    host = url.split("/")[2]
    if network is None:
        text = f"ImageNet weights are not cached ({expected}): checking whether {host} answers…"
        return WeightsPlan(text, None, needs_network=True)
    if network:
        text = f"ImageNet weights will be downloaded ({expected}) from {host} into the cache"
        return WeightsPlan(text, True, needs_network=True)
    text = "ImageNet weights are not cached and no network: choose random weights or a local file"
    return WeightsPlan(text, False, alternatives(backbone), needs_network=True)


def _file_plan(path: Path) -> WeightsPlan:
    try:
        size = path.stat().st_size
    except OSError:
        return WeightsPlan(f"no such weights file: {short_path(path)}", False)
    if not path.is_file():
        return WeightsPlan(f"not a weights file (a folder?): {short_path(path)}", False)
    return WeightsPlan(
        f"starting from the weights file {short_path(path)}, {size_text(size)}", True
    )


def _run_plan(path: Path) -> WeightsPlan:
    from gender_desktop.runs.folder import BEST, LAST, RunFolder

    run = RunFolder(path)
    if not run.exists():
        return WeightsPlan(f"no such run folder: {short_path(path)}", False)
    for name in (BEST, LAST):
        if run.has_checkpoint(name):
            return WeightsPlan(f"starting from the run {path.name} ({name})", True)
    return WeightsPlan(f"the run {path.name} has no checkpoint (no epoch finished)", False)
