"""Crash consumers on purpose: a worker process you can SIGKILL, and a callback that raises.

First used in lesson 04 (acks and redelivery). A killed worker dies for real: no ack
is sent, no `finally` runs, the broker sees the connection drop.

    worker = start_worker(shop_workers.consume, "orders.placed", name="billing")
    worker.kill()              # SIGKILL mid-message
    worker.exitcode            # -9

Worker functions must live in a module file (e.g. `shop_workers.py` next to the
notebook), not in a notebook cell: the "spawn" start method imports them by name in a
fresh interpreter. Spawn, never fork: forking a process that already uses gRPC is unsafe.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1
_running: dict[str, Worker] = {}


class ConsumerCrashed(RuntimeError):
    """Raised by `CrashAfter` to simulate a consumer dying in the middle of a message."""


class CrashAfter:
    """Raise `ConsumerCrashed` on the nth message, once; count messages before that.

    Call `crash.tick()` inside a callback, or wrap the callback: `callback = crash(callback)`.
    """

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"n counts messages from 1, got {n!r}")
        self.n, self.seen, self.crashed = n, 0, False
        self._lock = threading.Lock()

    def tick(self) -> None:
        """Count one message; raise `ConsumerCrashed` if it is the nth."""
        with self._lock:
            self.seen += 1
            if self.seen != self.n:
                return
            self.crashed = True
        raise ConsumerCrashed(f"simulated crash on message {self.n}")

    def __call__(self, callback: Callable) -> Callable:
        def crashing(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            return callback(*args, **kwargs)

        return crashing

    def __repr__(self) -> str:
        state = "crashed" if self.crashed else f"{self.seen} seen"
        return f"<CrashAfter {self.n}: {state}>"


def crash_after(n: int) -> CrashAfter:
    """Return a `CrashAfter(n)`: raise `ConsumerCrashed` on the nth message."""
    return CrashAfter(n)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent goes away."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _stop_gracefully(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _child_main(target: Callable, args: tuple, kwargs: dict, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    # stop() sends SIGTERM: exit through Python so `finally` and `with` blocks run.
    signal.signal(signal.SIGTERM, _stop_gracefully)
    target(*args, **kwargs)


class Worker:
    """Handle on a worker process started by `start_worker`."""

    def __init__(self, process: multiprocessing.process.BaseProcess, name: str) -> None:
        self.process, self.name = process, name

    @property
    def pid(self) -> int | None:
        """Return the worker's process id."""
        return self.process.pid

    @property
    def alive(self) -> bool:
        """Tell whether the worker process is still running."""
        return self.process.is_alive()

    @property
    def exitcode(self) -> int | None:
        """Return None while running, 0 after a clean end, -9 after `kill()`."""
        return self.process.exitcode

    def kill(self, timeout_s: float = 5.0) -> None:
        """SIGKILL the worker: a real death, with no cleanup and no goodbye to the broker."""
        if self.process.exitcode is None:
            self.process.kill()
        self.join(timeout_s)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the worker to exit (SIGTERM, its `finally` blocks run); kill it if it lingers."""
        if self.process.exitcode is None:
            self.process.terminate()
            self.process.join(timeout_s)
        if self.process.exitcode is None:
            self.kill(timeout_s)
        if _running.get(self.name) is self:
            del _running[self.name]

    def join(self, timeout_s: float = 5.0) -> int | None:
        """Wait up to `timeout_s` for the worker to end; return its exit code (None if running)."""
        self.process.join(timeout_s)
        return self.process.exitcode

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        code = self.exitcode
        if code is None:
            state = "running"
        elif code < 0:
            state = f"killed by {signal.Signals(-code).name}"
        else:
            state = f"exited with code {code}"
        return f"<Worker {self.name!r} pid {self.pid} {state}>"


def start_worker(target: Callable, *args: Any, name: str | None = None, **kwargs: Any) -> Worker:
    """Run `target(*args, **kwargs)` in a new process (spawn) that dies with this one.

    `target` must be importable: defined at the top level of a module file, not in a
    notebook cell and not a lambda. Linux ties the parent-death signal to the thread
    that starts the worker: start workers from the main thread (notebook cells run
    there), not from a thread that ends early. Starting a worker with the name of one still
    running stops the old one first (a re-run cell does not leave two consumers).
    """
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
    if module in (None, "__main__") or "<" in qualname:
        raise ValueError(
            f"{qualname or target!r} cannot be started in a worker: the spawned process imports "
            "it by name. Put `def ...` at the top level of a module file (e.g. shop_workers.py "
            "next to the notebook) and pass the imported function."
        )
    name = name or qualname
    if name in _running:
        _running.pop(name).stop()
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_child_main, args=(target, args, kwargs, os.getpid()), name=name, daemon=True
    )
    process.start()
    worker = _running[name] = Worker(process, name)
    return worker
