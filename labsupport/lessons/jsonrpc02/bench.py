"""Lesson 02's bench figures for `make bench`: batching and notifications, measured in one run.

- `jsonrpc_batch10_per_call_over_single`: the time of one call inside a batch of 10 over
  the time of a single call, same thin client, posts interleaved (expect <= 0.2);
- `jsonrpc_notification_reply_over_work`: how long a notification's 204 took over how
  long its 100 ms of work took (expect <= 0.05).

Each is the median of 3 runs (a run's notification figure is itself the median of 5
notifications); `_min` and `_max` beside it. About 5 s in all. Unpinned: on a 2-core
machine under a load of ~10 the batch ratio was seen drifting up to ~0.25.
"""

from __future__ import annotations

import statistics

from labsupport import serve_app

from .rigs import ratio_batch_to_single, time_notification
from .services import make_jsonrpc_app

REPEATS = 3


def measure() -> dict[str, float]:
    """Return {name: value} for lesson 02's bench figures, each a median of 3 runs."""
    app = make_jsonrpc_app()
    found: dict[str, list[float]] = {
        "jsonrpc_batch10_per_call_over_single": [],
        "jsonrpc_notification_reply_over_work": [],
    }
    with serve_app(app, name="bench-jsonrpc") as run:
        for _ in range(REPEATS):
            batch = ratio_batch_to_single(run.url, size=10, rounds=200)
            found["jsonrpc_batch10_per_call_over_single"].append(batch["ratio"])
            notes = [time_notification(run.url, app.state.noted, work_ms=100) for _ in range(5)]
            found["jsonrpc_notification_reply_over_work"].append(
                statistics.median(n["reply_ms"] / n["work_done_ms"] for n in notes)
            )
    figures: dict[str, float] = {}
    for name, values in found.items():
        figures[name] = statistics.median(values)
        figures[f"{name}_min"], figures[f"{name}_max"] = min(values), max(values)
    return figures


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}={value:.4f}")
