"""Keep one event loop thread for async calls under measurement, shared across runs."""

from __future__ import annotations

import os
import threading

from labsupport._runtime import LoopThread

_lock = threading.Lock()
_loop_thread: LoopThread | None = None


def measure_loop() -> LoopThread:
    """Return the lab's measuring loop thread, on the caller's CPUs, starting it on first use.

    One loop for every run, because async clients (httpx.AsyncClient, redis.asyncio)
    bind to the loop that first used them: a fresh loop per run would break a client
    kept between cells. It is never the kernel's loop, which a running cell blocks.
    """
    global _loop_thread
    with _lock:
        if _loop_thread is None or _loop_thread.loop.is_closed():
            _loop_thread = LoopThread("measure")
        loop_thread = _loop_thread
    if hasattr(os, "sched_setaffinity"):
        wanted = os.sched_getaffinity(0)

        async def follow_caller() -> None:
            os.sched_setaffinity(0, wanted)  # 0 is the calling thread: the loop's own

        loop_thread.run(follow_caller(), timeout_s=5)
    return loop_thread
