"""Reuse long-lived threads for clients, workers and the pacer across runs.

A thread created for each run starts at a disadvantage on a busy machine: Linux's
scheduler places a new thread behind those already waiting, while a thread that has
mostly slept gets to run at once when it wakes. Measured on the course's 2-vCPU VM,
a fresh thread made the same echo loop 3-5% slower than the kernel's own thread; a
reused one matched it.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable

MAX_IDLE = 64  # threads kept beyond this many idle ones exit instead

_lock = threading.Lock()
_idle: list[queue.SimpleQueue] = []
_names = itertools.count()


def run_in_thread(target: Callable, *args) -> None:
    """Run `target(*args)` on an idle pooled daemon thread (or a new one), where the caller may run.

    The thread takes the caller's CPU affinity for the job, so pinning the caller pins
    the measurement too. A job stuck forever keeps its thread; others are made as needed.
    """
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None
    with _lock:
        inbox = _idle.pop() if _idle else None
    if inbox is None:
        inbox = queue.SimpleQueue()
        name = f"lab-measure-{next(_names)}"
        threading.Thread(target=_serve, args=(inbox,), name=name, daemon=True).start()
    inbox.put((target, args, affinity))


def _serve(inbox: queue.SimpleQueue) -> None:
    while True:
        target, args, affinity = inbox.get()
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
        target(*args)  # an error ends this thread (and prints), so a broken one is never reused
        with _lock:
            if len(_idle) >= MAX_IDLE:
                return
            _idle.append(inbox)
