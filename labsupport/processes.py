"""Start helper programs the way the lab starts its brokers: tied to this process, never left behind.

    from labsupport.brokers import find_redis_server
    node = start_process([find_redis_server(), "--port", "7001", "--bind", "127.0.0.1"],
                         label="redis-cluster-7001", log_path=folder / "7001.log")
    ...
    stop_process(node)                       # SIGTERM, then SIGKILL after timeout_s
    stop_process(node, sig=signal.SIGKILL)   # a crash

Each process runs in its own process group (a kernel interrupt does not reach it), dies
with the process that started it even on kill -9 (the parent-death signal), and has a
pid file in the lab folder that the next import sweeps if its owner is gone.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from . import _procs

__all__ = ["start_process", "stop_process"]


def start_process(
    argv: list[str],
    *,
    label: str,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
) -> subprocess.Popen:
    """Start argv tied to this process (its own group, parent-death signal, pid file)."""
    if not argv:
        raise ValueError("argv is empty: give the program and its arguments")
    return _procs.spawn(list(map(str, argv)), label=label, env=env, log_path=log_path, cwd=cwd)


def stop_process(
    proc: subprocess.Popen, *, timeout_s: float = 5.0, sig: int = signal.SIGTERM
) -> int | None:
    """Stop a started process (sig, then SIGKILL after timeout_s); return its exit code."""
    _procs.terminate(proc, timeout_s=timeout_s, sig=sig)
    return proc.returncode
