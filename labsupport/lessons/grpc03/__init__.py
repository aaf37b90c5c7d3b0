"""Lesson 03, gRPC with grpcio: what its notebooks import beyond the toolkit.

    from labsupport.lessons.grpc03 import check_orders_servicer, check_resume_feed

The shop's contract comes from `labsupport.shop` (`SHOP_PROTO`, `load_shop`).

- `services`, `services_feed`: inventory, firehose and order-feed servicers, inventory over REST;
- `rigs`: codec timing, a slow stream reader, wrk and h2load, REST vs gRPC measured fairly;
- `charts`: the flow-control chart;
- `checks_orders`, `checks_feed`: the two graded tasks (with `_fixtures`).
"""

from __future__ import annotations

from .charts import plot_flow_control
from .checks_feed import check_resume_feed
from .checks_orders import check_orders_servicer
from .rigs import (
    grpc_frame,
    measure_rest_and_grpc,
    read_slowly,
    run_h2load,
    run_wrk,
    time_codecs,
)
from .services import FirehoseServicer, InventoryServicer, Reservation, make_products_app
from .services_feed import FeedCall, OrderFeedServicer

__all__ = [
    "FeedCall",
    "FirehoseServicer",
    "InventoryServicer",
    "OrderFeedServicer",
    "Reservation",
    "check_orders_servicer",
    "check_resume_feed",
    "grpc_frame",
    "make_products_app",
    "measure_rest_and_grpc",
    "plot_flow_control",
    "read_slowly",
    "run_h2load",
    "run_wrk",
    "time_codecs",
]
