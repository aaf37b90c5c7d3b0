"""Say and choose where measuring threads run: on a small VM placement moves latency most.

A loopback round trip between two threads on the same vCPU can take a fifth of the
time it takes across vCPUs (RUNTIME-NOTES), so every result records its placement and
both sides of a comparison should run under the same one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


@functools.cache
def _libc_sched_getcpu():
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or None).sched_getcpu
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_int
    return fn


def current_cpu() -> int | None:
    """Return the CPU the calling thread runs on right now, or None where unknown."""
    fn = _libc_sched_getcpu()
    cpu = fn() if fn is not None else -1
    return cpu if cpu >= 0 else None


def read_placement() -> dict:
    """Describe where this thread may run: allowed CPUs, machine size, process id."""
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"nproc": os.cpu_count(), "affinity": affinity, "pid": os.getpid(), "cpus_seen": []}


@contextmanager
def pinned(cpus: int | Iterable[int]) -> Iterator[None]:
    """Run the block on the given CPU(s); threads and processes it starts inherit that.

    Measuring threads take their caller's CPUs for each run, so `with pinned(1):
    run_closed_loop(...)` measures from CPU 1. Does nothing where the OS cannot pin
    (macOS).
    """
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    wanted = {cpus} if isinstance(cpus, int) else set(cpus)
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, wanted)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pin_process(pid: int, cpus: int | Iterable[int]) -> None:
    """Pin every thread of another process (an isolated service, say) to the given CPU(s)."""
    wanted = {cpus} if isinstance(cpus, int) else set(cpus)
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), wanted)
