"""Lesson 03, gRPC with grpcio: what its notebooks import beyond the toolkit.

    from labsupport.lessons.grpc03 import check_orders_servicer, check_resume_feed

The shop's contract comes from `labsupport.shop` (`SHOP_PROTO`, `load_shop`).

- `services`: the inventory and order-feed servicers behind the checks and the bench;
- `checks_orders`, `checks_feed`: the two graded tasks (with `_fixtures`).
"""

from __future__ import annotations

from .checks_feed import check_resume_feed
from .checks_orders import check_orders_servicer
from .services import FeedCall, InventoryServicer, OrderFeedServicer, Reservation

__all__ = [
    "FeedCall",
    "InventoryServicer",
    "OrderFeedServicer",
    "Reservation",
    "check_orders_servicer",
    "check_resume_feed",
]
