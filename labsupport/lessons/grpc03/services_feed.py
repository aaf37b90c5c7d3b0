"""Lesson 03's order feed: an endless stream of orders that drops calls on a plan.

The second exercise's check reads from it: the feed records where each call asked to
resume and how each call ended, so a case can judge what the learner's reader did.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import grpc

from labsupport.shop import load_shop

__all__ = ["FEED_FIRST_ID", "FEED_STEP", "FeedCall", "OrderFeedServicer"]

FEED_FIRST_ID, FEED_STEP = 5, 3  # ids 5, 8, 11, ...: a resume off by one lands on no order


@dataclass
class FeedCall:
    """Hold one WatchOrders call as the feed saw it."""

    after_order_id: int
    sent: list[int] = field(default_factory=list)
    ended: str = "open"  # dropped, cancelled, refused, down


class OrderFeedServicer:
    """Serve Orders.WatchOrders: an endless feed of orders with ids 5, 8, 11, ...

    `drops` plans the calls: the n-th call is dropped with UNAVAILABLE after
    `drops[n]` orders (None: never). `down=True` refuses every call with UNAVAILABLE.
    A negative after_order_id is INVALID_ARGUMENT. Calls are kept in `calls`.
    """

    def __init__(self, drops: list[int | None] | None = None, down: bool = False) -> None:
        self.pb2, _ = load_shop()
        self.drops, self.down = list(drops or []), down
        self.calls: list[FeedCall] = []
        self.ended = threading.Event()  # set when a call ends, however it ends

    def WatchOrders(self, request, context):  # noqa: N802 (gRPC's method names)
        call = FeedCall(request.after_order_id)
        self.calls.append(call)
        context.add_callback(lambda: self._end(call, "cancelled"))
        if request.after_order_id < 0:
            self._end(call, "refused")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "after_order_id must be >= 0")
        drop_after = self.drops[len(self.calls) - 1] if len(self.calls) <= len(self.drops) else None
        if self.down:
            self._end(call, "down")
            context.abort(grpc.StatusCode.UNAVAILABLE, "the order feed is down")
        order_id = self.next_id(request.after_order_id)
        while context.is_active() and len(call.sent) < 100_000:
            if drop_after is not None and len(call.sent) >= drop_after:
                self._end(call, "dropped")
                context.abort(grpc.StatusCode.UNAVAILABLE, "the feed restarted: resume")
            call.sent.append(order_id)
            yield self.pb2.Order(order_id=order_id, sku="mug-blue", qty=1, status="placed")
            order_id += FEED_STEP

    def PlaceOrder(self, request, context):  # noqa: N802 (the feed only streams)
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the order feed only streams orders")

    GetOrder = TrackOrders = PlaceOrder

    @staticmethod
    def next_id(after_order_id: int) -> int:
        """Return the first id of the feed larger than after_order_id."""
        if after_order_id < FEED_FIRST_ID:
            return FEED_FIRST_ID
        return after_order_id + FEED_STEP - (after_order_id - FEED_FIRST_ID) % FEED_STEP

    def _end(self, call: FeedCall, how: str) -> None:
        if call.ended == "open":
            call.ended = how
        self.ended.set()
