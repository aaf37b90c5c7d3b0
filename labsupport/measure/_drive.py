"""The closed loop's hot loops: as little Python as possible between two clock reads."""

from __future__ import annotations

import time

from labsupport.measure._common import error_name


class Lane:
    """Hold one client's raw readings; only that client appends to it."""

    __slots__ = ("starts", "ends", "errors")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.errors: dict[int, str] = {}


def drive_sync(call, lane: Lane, end_ns: int, take, limit: int, halt: list) -> object:
    """Call `call` until the end time, the request limit or a halt; return the last reply.

    Locals only, two clock reads and two appends per request: this loop is what
    `harness_overhead_ratio` in `python -m labsupport.bench` compares with a bare loop.
    """
    now = time.perf_counter_ns
    add_start, add_end, errors, ends = lane.starts.append, lane.ends.append, lane.errors, lane.ends
    reply = None
    while not halt[0]:
        t = now()
        if t >= end_ns or take() >= limit:
            break
        add_start(t)
        try:
            reply = call()
            add_end(now())
        except Exception as exc:
            t = now()
            errors[len(ends)] = error_name(exc)  # before the end, so no reader sees it as ok
            add_end(t)
    return reply


async def drive_async(call, lane: Lane, end_ns: int, take, limit: int, halt: list) -> None:
    """Do what `drive_sync` does, awaiting `call()` on the measuring loop."""
    now = time.perf_counter_ns
    add_start, add_end, errors, ends = lane.starts.append, lane.ends.append, lane.errors, lane.ends
    while not halt[0]:
        t = now()
        if t >= end_ns or take() >= limit:
            break
        add_start(t)
        try:
            await call()
            add_end(now())
        except Exception as exc:
            t = now()
            errors[len(ends)] = error_name(exc)
            add_end(t)
