"""Lesson 07, choosing and combining: what its notebooks import beyond the toolkit.

    from labsupport.lessons import choosing07 as c7

The notebook shows the real sqlite3 and pika calls; this package holds the lesson's parts:

- `services`: the orders service as a killable process, with a dual write or an outbox;
- `rigs`: kill it at each crash point, retry, and count lost and duplicated events;
- `services_trace`, `rigs_trace`, `charts_trace`: a tracer per service, a trace as rows and as a timeline;
- `rigs_guide`, `charts_guide`: the decision guide, as a function and as a widget;
- `charts`: the crash-point chart;
- `checks`, `_fixtures`: the capstone check of an outbox relay.
"""

from __future__ import annotations

from .charts import plot_crash_points
from .charts_guide import decision_guide
from .charts_trace import plot_trace
from .checks import check_outbox_relay, effects
from .rigs import CrashRun, count_damage, crash_everywhere, crash_run, take_events
from .rigs_guide import QUESTIONS, Advice, recommend
from .rigs_trace import service_of, trace_rows
from .services import (
    DUAL_WRITE_POINTS,
    OUTBOX_POINTS,
    open_db,
    order_placed,
    orders_service,
    place_order,
    relay_pass,
)
from .services_trace import tracer_for

__all__ = [
    "Advice",
    "CrashRun",
    "DUAL_WRITE_POINTS",
    "OUTBOX_POINTS",
    "QUESTIONS",
    "check_outbox_relay",
    "count_damage",
    "crash_everywhere",
    "crash_run",
    "decision_guide",
    "effects",
    "open_db",
    "order_placed",
    "orders_service",
    "place_order",
    "plot_crash_points",
    "plot_trace",
    "recommend",
    "relay_pass",
    "service_of",
    "take_events",
    "trace_rows",
    "tracer_for",
]
