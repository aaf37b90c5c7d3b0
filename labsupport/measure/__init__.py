"""Measure services under load: closed and open loops, percentiles, timelines.

    from labsupport.measure import run_closed_loop, run_open_loop
    res = run_closed_loop(lambda: client.get("/health"), clients=4, duration_s=3)
    res.summary().p99_ms, res.timeline(), res.histogram()

Latency always counts from the intended send time (in a closed loop that is the
actual send time). A call fails when it raises; wrap it in `status_errors(call)` to
count HTTP replies >= 500 as failures too (named "HTTP 503" and so on). Every result
records where its threads ran (`res.placement`), because on a small machine placement
moves latency more than anything else. Lesson 00 compares the same app in the kernel
and in its own process:

    inside = serve_app(app, name="orders")
    outside = serve_app("labsupport.demo:app", name="orders-own", isolated=True)
    compare({
        "in kernel": run_closed_loop(lambda c=ThinHttpClient(inside.url): c.get("/health"), clients=1),
        "own process": run_closed_loop(lambda c=ThinHttpClient(outside.url): c.get("/health"), clients=1),
    })
"""

from __future__ import annotations

from labsupport.display import Table
from labsupport.measure._common import StatusError, status_errors
from labsupport.measure.closed_loop import run_closed_loop
from labsupport.measure.compare import compare
from labsupport.measure.open_loop import run_open_loop
from labsupport.measure.placement import current_cpu, pin_process, pinned, read_placement
from labsupport.measure.records import NOT_STARTED, UNFINISHED, RecordTable, RequestRecord
from labsupport.measure.result import LatencySummary, LoadResult, Timeline
from labsupport.measure.schedule import make_schedule

__all__ = [
    "LatencySummary",
    "LoadResult",
    "NOT_STARTED",
    "RecordTable",
    "RequestRecord",
    "StatusError",
    "Table",
    "Timeline",
    "UNFINISHED",
    "compare",
    "current_cpu",
    "make_schedule",
    "pin_process",
    "pinned",
    "read_placement",
    "run_closed_loop",
    "run_open_loop",
    "status_errors",
]
