"""Lesson 04, publish/subscribe and message queues: what its notebooks import beyond the toolkit.

    from labsupport.lessons import queues04 as q4

The notebook shows the real redis-py and pika calls; connections, background consumers
and waits come from `labsupport.messaging` and `labsupport.waiting`, traces from
`labsupport.observe`. This package holds the lesson's own parts:

- `services`, `services_billing`: a work-then-ack consumer, the price RPC server, a relay;
  the billing worker that dies mid-message (a spawned process) and its receipts;
- `rigs`, `rigs_pubsub`, `rigs_scaling`, `rigs_ordering`, `rigs_outage`: the experiments;
- `charts`: the lesson's own charts;
- `checks`, `checks_worker`, `checks_pool`, `_fixtures`: the exercise checks and the
  queues they run on.
"""

from __future__ import annotations

from .charts import draw_scaling, plot_outage, plot_pubsub_window
from .checks import check_handle_once
from .checks_pool import check_consumer_pool
from .checks_worker import check_reliable_worker
from .rigs import (
    DepthSampler,
    Tally,
    kill_mid_message,
    publish_burst,
    publish_orders,
    tally,
    try_exchange,
)
from .rigs_ordering import orders_out_of_order, partition_for, run_order_events, settled_depth
from .rigs_outage import OutageLog, OutageTraffic
from .rigs_pubsub import Published, join, leave, publish_steadily
from .rigs_scaling import fast_and_slow, scale_consumers
from .services import ConsumerThread, Relay, RpcServer
from .services_billing import billing_worker, send_receipt, send_receipt_once

__all__ = [
    "ConsumerThread",
    "DepthSampler",
    "OutageLog",
    "OutageTraffic",
    "Published",
    "Relay",
    "RpcServer",
    "Tally",
    "billing_worker",
    "check_consumer_pool",
    "check_handle_once",
    "check_reliable_worker",
    "draw_scaling",
    "fast_and_slow",
    "join",
    "kill_mid_message",
    "leave",
    "orders_out_of_order",
    "partition_for",
    "plot_outage",
    "plot_pubsub_window",
    "publish_burst",
    "publish_orders",
    "publish_steadily",
    "run_order_events",
    "scale_consumers",
    "send_receipt",
    "send_receipt_once",
    "settled_depth",
    "tally",
    "try_exchange",
]
