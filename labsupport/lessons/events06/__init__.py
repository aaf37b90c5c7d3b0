"""Lesson 06, lightweight events: what its notebooks import beyond the toolkit.

    from labsupport.lessons import events06 as e6

The notebook shows the real pika, httpx and redis-py calls; consumers run on
`labsupport.messaging.BackgroundConsumer`, calls are counted by `labsupport.observe.CallLog`
and bytes by the counters of `labsupport.faults.FaultyProxy`. This package holds:

- `services`: orders of any size, thin and fat events, `read_order`, `DetailConsumer`;
- `rigs`, `rigs_herd`: the thin/fat rounds on a counted wire, and the herd of callbacks;
- `charts`: the crossover and the herd;
- `checks`, `checks_race`, `_fixtures`: the exercise checks and what they run on;
- `bench`: the figures `make bench` reports.
"""

from __future__ import annotations

from .charts import plot_crossover, plot_herd
from .checks import check_shipping_consumer
from .checks_race import check_order_when_ready
from .rigs import CONSUMERS, EventLab, Round, crossover, needs_share, per_share_rows, sweep
from .rigs_herd import Herd, run_herd
from .services import (
    DetailConsumer,
    Got,
    commit_order,
    fat_event,
    make_order,
    read_order,
    thin_event,
)

__all__ = [
    "CONSUMERS",
    "DetailConsumer",
    "EventLab",
    "Got",
    "Herd",
    "Round",
    "check_order_when_ready",
    "check_shipping_consumer",
    "commit_order",
    "crossover",
    "fat_event",
    "make_order",
    "needs_share",
    "per_share_rows",
    "plot_crossover",
    "plot_herd",
    "read_order",
    "run_herd",
    "sweep",
    "thin_event",
]
