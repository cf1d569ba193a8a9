"""Driving a child process that labels images, to kill it at a known moment."""

from __future__ import annotations

import os
import signal
import subprocess


def run_and_kill_mid_edit(command: list[str], n: int) -> list[int]:
    """Let the process make ``n`` acknowledged edits, start one more and SIGKILL it mid-way."""
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    assert proc.stdin is not None and proc.stdout is not None
    acked: list[int] = []
    while len(acked) < n:
        proc.stdin.write("go\n")
        proc.stdin.flush()
        acked.append(int(proc.stdout.readline()))
    proc.stdin.write("go\n")
    proc.stdin.flush()
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
    proc.wait(timeout=30)
    return acked
