"""Multi-GPU and multi-node training on ``torch.distributed`` (Qt-free).

``gender-desktop train ... --ddp`` runs one process per device under ``torchrun``
(``python -m torch.distributed.run``), which starts the processes, gives each its RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous address, restarts or ends them when one fails, and
does the same across machines with its own rendezvous flags. A home-made launcher would have to
redo all of that (free ports, a rendezvous, a dead process's clean-up, signals), and
``torchrun`` is what every cluster scheduler already knows how to start. This module is the
engine's one door to it: it joins the process group that torchrun describes (NCCL on CUDA, each
process on ``cuda:LOCAL_RANK``; gloo on CPU) and gives the trainer the few collective steps it
needs, so that ``ml/trainer.py`` keeps only small hooks:

- the same seeded shuffle of the train rows on every process, then a strided shard of equal
  length (no process waits on a collective that another never reaches);
- sums of the epoch's metrics (loss, correct, images) across processes, so every process
  reports the same numbers as one process training on all rows would;
- Stop and Pause agreed between batches (any process's stop stops all, at the same batch);
- work that writes shared caches (the decode cache, downloaded weights) done first by local
  rank 0 of each machine while the others wait, then opened from disk by them;
- the model wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`, its BatchNorm
  layers converted to :class:`~torch.nn.SyncBatchNorm` when asked.

A process that dies ends the run: torchrun stops the others (they get SIGTERM, which becomes
:class:`RunInterrupted` here), and a collective waiting for a process that is gone fails after
the process group's timeout (``GENDER_DESKTOP_DDP_TIMEOUT_S``, 30 minutes by default) instead
of hanging; the trainer turns both into a message that says last.pt is resumable.
"""

from __future__ import annotations

import datetime
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from gender_desktop.errors import UserError
from gender_desktop.ml.events import Control

TIMEOUT_ENV = "GENDER_DESKTOP_DDP_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 1800.0
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
PAUSE_POLL_S = 0.2
T = TypeVar("T")


class NotUnderTorchrun(UserError):
    """``--ddp`` outside torchrun, or on a device that torch.distributed cannot train on."""


class RunInterrupted(UserError):
    """torchrun ended this process (another process of the run failed, or the run was
    stopped from outside); raised from the SIGTERM handler so the run records its state."""


class PeerFailed(UserError):
    """Another process of the run failed while this one waited for it."""


def timeout_seconds() -> float:
    """The process group's timeout: how long a collective waits for a silent process."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_TIMEOUT_S
    except ValueError:
        raise NotUnderTorchrun(f"{TIMEOUT_ENV} must be a number of seconds, not {raw!r}") from None
    if not value > 0:
        raise NotUnderTorchrun(f"{TIMEOUT_ENV} must be positive, not {raw!r}")
    return value


def under_torchrun(env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return all(env.get(name) for name in TORCHRUN_ENV)


class DistContext:
    """This process's place in the run: rank, world size, device, and the collectives."""

    def __init__(self, rank: int, world: int, local_rank: int, device: torch.device) -> None:
        self.rank, self.world, self.local_rank, self.device = rank, world, local_rank, device
        self.backend = dist.get_backend()
        # Control flags and "is the cache ready" travel on a CPU (gloo) group: no GPU sync.
        self.cpu_group = (
            dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=timeout_seconds()))
            if self.backend != "gloo"
            else dist.group.WORLD
        )

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run folder and sends events."""
        return self.rank == 0

    def describe(self) -> dict[str, Any]:
        """What config.json records of the run's processes."""
        return {"world_size": self.world, "backend": self.backend}

    # -- data -----------------------------------------------------------------------------------
    def shard(self, rows: np.ndarray, seed: int) -> np.ndarray:
        """This process's train rows for one epoch: the same seeded permutation on every
        process, then every ``world``-th row from ``rank``, all shards of equal length (the
        at most ``world - 1`` rows left over differ from epoch to epoch)."""
        order = np.random.default_rng(seed).permutation(rows)
        per_process = len(order) // self.world
        return np.sort(order[self.rank :: self.world][:per_process])

    def split(self, rows: np.ndarray) -> np.ndarray:
        """This process's part of an evaluation split (all rows, strided; sums are reduced)."""
        return np.asarray(rows)[self.rank :: self.world]

    def sums(self, *values: torch.Tensor | float) -> list[float]:
        """``values`` summed over all processes (one all-reduce on the training device)."""
        packed = torch.stack(
            [torch.as_tensor(v, device=self.device).double().reshape(()) for v in values]
        )
        dist.all_reduce(packed, op=dist.ReduceOp.SUM)
        return [float(v) for v in packed.tolist()]

    def smallest(self, value: int) -> int:
        """The smallest of every process's ``value`` (the automatic batch size: all ranks must
        step the same batch, or the equal batch counts that keep collectives paired break)."""
        packed = torch.tensor([value], device=self.device, dtype=torch.long)
        dist.all_reduce(packed, op=dist.ReduceOp.MIN)
        return int(packed.item())

    def first_on_each_machine(self, work: Callable[[], T]) -> T:
        """Run ``work`` on local rank 0 of each machine first (it fills the machine's caches:
        decoded images, downloaded weights), then on the others, which find the caches
        filled. A failure on the first raises it there and :class:`PeerFailed` elsewhere,
        instead of leaving the others waiting."""
        result: T | None = None
        failed = 0.0
        if self.local_rank == 0:
            try:
                result = work()
            except BaseException:
                self._agree_failure(1.0)
                raise
        if self._agree_failure(failed):
            raise PeerFailed("another process of the run failed while preparing the data")
        if self.local_rank != 0:
            result = work()
        return result  # type: ignore[return-value]

    def _agree_failure(self, failed: float) -> bool:
        flag = torch.tensor([failed])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self.cpu_group)
        return bool(flag.item())

    # -- control --------------------------------------------------------------------------------
    def agree_control(self, control: Control) -> tuple[bool, bool]:
        """(stop, pause) as any process has them; a stop anywhere sets ``control.stop``
        here too, so every process stops at the same batch."""
        flags = torch.tensor(
            [float(control.stop.is_set()), float(control.pause.is_set())], dtype=torch.float32
        )
        dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.cpu_group)
        stop, pause = bool(flags[0].item()), bool(flags[1].item())
        if stop:
            control.stop.set()
        return stop, pause

    def wait_if_paused(self, control: Control) -> float:
        """Hold every process while any is paused; the seconds held."""
        stop, pause = self.agree_control(control)
        if not pause or stop:
            return 0.0
        held = time.perf_counter()
        while pause and not stop:
            time.sleep(PAUSE_POLL_S)
            stop, pause = self.agree_control(control)
        return time.perf_counter() - held

    # -- model ----------------------------------------------------------------------------------
    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` (on this process's device) under DistributedDataParallel."""
        ids = [self.device.index] if self.device.type == "cuda" else None
        # At small inputs the last blocks' maps are 1x1, whose gradient layout is ambiguous:
        # DDP then warns (a note on speed, once per process), which would be a line per rank.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view")
        return nn.parallel.DistributedDataParallel(
            module, device_ids=ids, gradient_as_bucket_view=True
        )

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def convert_sync_bn(model: nn.Module) -> nn.Module:
    """BatchNorm layers as SyncBatchNorm (statistics over the whole global batch); the same
    parameter and buffer names, so checkpoints load into the plain model."""
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def start(device: torch.device) -> DistContext:
    """Join the process group torchrun describes (``env://``): NCCL for CUDA, gloo for the
    CPU; on CUDA this process trains on ``cuda:LOCAL_RANK``. ``device`` is the one the
    settings resolve to. Refused (a :class:`NotUnderTorchrun` saying what to run) outside
    torchrun, on Apple MPS, or with fewer GPUs on this machine than processes."""
    if not under_torchrun():
        raise NotUnderTorchrun(
            "--ddp runs under torchrun, which starts one process per device: python -m "
            "torch.distributed.run --nproc_per_node N -m gender_desktop train ... --ddp"
        )
    if device.type not in ("cuda", "cpu"):
        raise NotUnderTorchrun(
            f"--ddp trains on CUDA GPUs (NCCL) or CPUs (gloo), not on {device.type}; "
            "use --device cuda or --device cpu"
        )
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise NotUnderTorchrun(
                f"process {local_rank} of this machine has no GPU: torch sees "
                f"{torch.cuda.device_count()}; start at most that many (--nproc_per_node)"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo",
        timeout=datetime.timedelta(seconds=timeout_seconds()),
        device_id=device if device.type == "cuda" else None,
    )
    _stop_on_sigterm()
    return DistContext(rank, world, local_rank, device)


def _stop_on_sigterm() -> None:
    """torchrun sends SIGTERM to the processes left when one fails: raise, so the trainer
    records the failure in status.json and says what last.pt keeps before the process ends
    (Python's default would end it at once, with status.json still saying "running")."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigterm(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
        raise RunInterrupted(
            "torchrun ended this process: another process of the run failed or was stopped"
        )

    signal.signal(signal.SIGTERM, on_sigterm)


def shield_from_sigterm() -> None:
    """While a failure is being recorded (status.json, the message): torchrun's SIGTERM,
    which often follows a lost connection, must not cut that short; the process ends by
    itself right after (torchrun's SIGKILL comes 30 s later if not)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def is_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the run's processes losing each other (a dead process, a timeout,
    a lost connection) rather than a failure of this process's own work."""
    if isinstance(exc, RunInterrupted | PeerFailed | dist.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        marker in text
        for marker in ("Connection closed by peer", "Connection reset by peer", "Timed out")
    )


def failure_text(exc: BaseException) -> str:
    """The first line of a lost-process failure, named as such."""
    if isinstance(exc, RunInterrupted | PeerFailed):
        return str(exc)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return f"a process of the distributed run was lost ({first})"
