"""Lesson 07, choosing and combining: what its notebooks import beyond the toolkit.

    from labsupport.lessons import choosing07 as c7

The notebook shows the real sqlite3 and pika calls; this package holds the lesson's parts:

- `services`: the orders service as a killable process, with a dual write or an outbox;
- `rigs`: kill it at each crash point, retry, and count lost and duplicated events;
- `services_trace`, `rigs_trace`, `charts_trace`: a tracer per service, a trace as rows and as a timeline;
- `services_compare`, `rigs_compare`, `charts_compare`: five patterns behind one fault
  scenario, driven one after another, as a table and a chart;
- `rigs_guide`, `charts_guide`: the decision guide, as a function and as a widget;
- `charts`: the crash-point chart;
- `checks`, `_fixtures`: the capstone check of an outbox relay.
"""

from __future__ import annotations

from .charts import plot_crash_points
from .charts_compare import plot_patterns
from .charts_guide import decision_guide
from .charts_trace import plot_trace
from .checks import check_outbox_relay, effects
from .rigs import CrashRun, count_damage, crash_everywhere, crash_run, take_events
from .rigs_compare import FaultScenario, compare_patterns
from .rigs_guide import EARLIER, QUESTIONS, Advice, earlier, recommend, under_faults
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
from .services_compare import (
    Pattern,
    event_pattern,
    grpc_pattern,
    jsonrpc_pattern,
    queue_pattern,
    rest_pattern,
)
from .services_trace import tracer_for

__all__ = [
    "Advice",
    "CrashRun",
    "DUAL_WRITE_POINTS",
    "EARLIER",
    "FaultScenario",
    "OUTBOX_POINTS",
    "Pattern",
    "QUESTIONS",
    "check_outbox_relay",
    "compare_patterns",
    "count_damage",
    "crash_everywhere",
    "crash_run",
    "decision_guide",
    "earlier",
    "effects",
    "event_pattern",
    "grpc_pattern",
    "jsonrpc_pattern",
    "open_db",
    "order_placed",
    "orders_service",
    "place_order",
    "plot_crash_points",
    "plot_patterns",
    "plot_trace",
    "queue_pattern",
    "recommend",
    "relay_pass",
    "rest_pattern",
    "service_of",
    "take_events",
    "trace_rows",
    "tracer_for",
    "under_faults",
]
