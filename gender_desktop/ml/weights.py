"""Starting weights, chosen explicitly and never swapped silently.

- ``imagenet``: torchvision's ImageNet weights from the torch hub cache; where the machine is
  online they are downloaded into that cache with visible progress and their sha256 prefix is
  checked; offline without a cached copy, :class:`WeightsUnavailable` says so and lists the
  alternatives.
- ``file:<path>``: a local ``.pth`` file, verified against the sha256 prefix that torchvision puts
  in its file names (``vgg16-397923af.pth``).
- ``run:<run folder>``: a previous run's best checkpoint (pretrain on one dataset, fine-tune on
  another).
- ``random``: random initialisation.

Everything is loaded with ``torch.load(..., weights_only=True)``: nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch

from gender_desktop.errors import Cancelled
from gender_desktop.fileio import atomic_write_bytes
from gender_desktop.ml import backbones
from gender_desktop.ml.weights_check import OFFLINE_ENV, WeightsUnavailable, unavailable_message

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,64})\.pth?$")
Progress = Callable[[int, int, str], None]


def imagenet_url(backbone: str) -> str:
    """torchvision's download address of ``backbone``'s ImageNet weights (from the backbone
    table's enum name, so torchvision stays the one source of the address)."""
    from torchvision.models import get_weight

    entry = backbones.get(backbone)
    if entry.imagenet_weights is None:
        raise WeightsUnavailable(
            f"{entry.title} has no ImageNet weights; start it from random weights or a run"
        )
    return get_weight(entry.imagenet_weights).url


def hub_path(url: str) -> Path:
    """Where torch hub keeps (or would keep) the file for ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def expected_prefix(name: str) -> str | None:
    match = _HASH_IN_NAME.search(name)
    return match.group(1) if match else None


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, backbone: str) -> None:
    """Refuse a weights file whose sha256 does not start with the prefix in its name (or, for a
    renamed file, with the prefix of torchvision's file for ``backbone``)."""
    if not path.exists():
        raise WeightsUnavailable(f"{path}: no such weights file")
    if not path.is_file():
        raise WeightsUnavailable(f"{path}: not a regular file (a folder, FIFO or device)")
    if path.stat().st_size == 0:
        raise WeightsUnavailable(f"{path}: is empty (0 bytes)")
    named = expected_prefix(path.name)
    prefix = named or expected_prefix(imagenet_url(backbone))
    actual = sha256_of(path)
    if prefix and not actual.startswith(prefix):
        if named:
            raise WeightsUnavailable(
                f"{path}: sha256 {actual[:12]}… does not match the expected prefix {prefix}; "
                "the file is corrupt or not the weights it claims to be"
            )
        raise WeightsUnavailable(
            f"{path}: not torchvision's ImageNet weights for {backbone} (its sha256 "
            f"{actual[:12]}… does not match the expected prefix {prefix}). To start from a "
            "gender-desktop run's checkpoint (best.pt, last.pt), use run:<its run folder>"
        )


def download(
    url: str,
    target: Path,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Download ``url`` to ``target`` with progress, checking the sha256 prefix in its name.
    ``cancel`` (the training's Stop, or closing the app) is checked after every megabyte; the
    file only appears once it is complete and verified, so a cancelled download leaves none."""
    try:
        with urllib.request.urlopen(
            url, timeout=30
        ) as response:  # only https URLs from torchvision
            total = int(response.headers.get("Content-Length") or 0)
            chunks, done = [], 0
            while block := response.read(1 << 20):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                chunks.append(block)
                done += len(block)
                if progress is not None:
                    progress(done, total or done, f"Downloading {target.name}")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise WeightsUnavailable(offline_message(url, exc)) from exc
    data = b"".join(chunks)
    prefix = expected_prefix(target.name)
    if prefix and not hashlib.sha256(data).hexdigest().startswith(prefix):
        raise WeightsUnavailable(f"{url}: the download is corrupt (sha256 prefix mismatch)")
    atomic_write_bytes(target, data)
    return target


def offline_message(url: str, exc: BaseException | None = None) -> str:
    """The message for ImageNet weights that are not cached and could not be downloaded:
    :func:`weights_check.unavailable_message`, the one text the panel, CLI and trainer show."""
    name = url.rsplit("/", 1)[-1]
    backbone = next(b.name for b in backbones.BACKBONES.values() if b.imagenet_file == name)
    return unavailable_message(backbone, str(exc) if exc else "")


def imagenet_state_dict(
    backbone: str,
    progress: Progress | None = None,
    allow_download: bool = True,
    cancel: threading.Event | None = None,
) -> dict[str, torch.Tensor]:
    url = imagenet_url(backbone)
    path = hub_path(url)
    if not path.exists():
        if not allow_download or os.environ.get(OFFLINE_ENV):
            why = f"{OFFLINE_ENV} is set" if allow_download else "downloads are off"
            raise WeightsUnavailable(unavailable_message(backbone, why))
        download(url, path, progress, cancel)
    return load_state_dict(path)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file (a state dict, or a checkpoint holding one as ``model``).
    A damaged, foreign or unsafe file raises :class:`WeightsUnavailable` naming it."""
    from gender_desktop.runs.folder import is_state_dict, load_torch_file

    state = load_torch_file(path, WeightsUnavailable)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not is_state_dict(state):
        raise WeightsUnavailable("not a weights file (no state dict of tensors)", file=path)
    return state


def load_starting_weights(
    model: torch.nn.Module,
    source: str,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Put the run's starting weights (``imagenet``, ``file:``, ``run:``; ``random`` leaves
    the model as built) into ``model``, a GenderNet; what cannot be had or does not fit is a
    :class:`WeightsUnavailable` naming the file."""
    backbone = model.config.backbone
    if source == "imagenet":
        model.load_imagenet(imagenet_state_dict(backbone, progress, cancel=cancel))
    elif source.startswith("file:"):
        path = Path(source.removeprefix("file:")).expanduser()
        verify_file(path, backbone)
        try:
            model.load_imagenet(load_state_dict(path))
        except ValueError as exc:  # the tensors are not a backbone's
            raise WeightsUnavailable(str(exc), file=path) from exc
    elif source.startswith("run:"):
        path = Path(source.removeprefix("run:")).expanduser()
        state = run_state_dict(path)
        own = model.state_dict()
        fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if not any(k.startswith("trunk.") for k in fitting):
            raise WeightsUnavailable(f"its model does not fit {backbone}", file=path)
        model.load_state_dict(fitting, strict=False)


def run_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A previous run's best (else last) weights, to start from; any problem of that folder
    is a :class:`WeightsUnavailable` naming its file."""
    from gender_desktop.runs.folder import BEST, LAST, RunFolder, RunUnusable

    previous = RunFolder(path)
    if not previous.exists():
        raise WeightsUnavailable("no such run folder (to start from)", file=path)
    which = BEST if previous.has_checkpoint(BEST) else LAST
    if not previous.has_checkpoint(which):
        raise WeightsUnavailable("has no checkpoint to start from (no epoch finished)", file=path)
    try:
        return previous.load_checkpoint(which)["model"]
    except RunUnusable as exc:
        raise WeightsUnavailable(str(exc)) from exc
