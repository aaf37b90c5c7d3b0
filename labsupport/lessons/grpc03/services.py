"""Lesson 03's servicers that the checks and the bench run: inventory and an order feed.

The lesson writes its own servicers in cells; these are the live services behind the
exercise checks and `make bench`. They hold no gRPC state until one is built, and they
load the generated modules (`labsupport.shop.load_shop`) only then.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import grpc

from labsupport.shop import load_shop

__all__ = [
    "FeedCall",
    "FirehoseServicer",
    "InventoryServicer",
    "OrderFeedServicer",
    "Reservation",
    "make_products_app",
]

FEED_FIRST_ID, FEED_STEP = 5, 3  # ids 5, 8, 11, ...: a resume off by one lands on no order


@dataclass
class Reservation:
    """Hold what inventory saw of one ReserveStock call."""

    sku: str
    qty: int
    remaining_s: float | None  # the caller's deadline as inventory saw it; None: no deadline
    outcome: str = "working"  # reserved, refused, stopped early (caller gone), done late


class InventoryServicer:
    """Serve the shop's Inventory: products, stock, reservations that can be made slow.

    `work_s` makes ReserveStock work that long (checking every 10 ms whether the caller
    is still there). Every reservation is kept in `reservations`.
    """

    def __init__(self, stock: dict[str, int] | None = None, work_s: float = 0.0) -> None:
        self.pb2, _ = load_shop()
        self.stock = dict({"mug-blue": 5, "tea-green": 0} if stock is None else stock)
        self.work_s = work_s
        self.reservations: list[Reservation] = []
        self.lock = threading.Lock()

    def product(self, sku: str):
        """Return the Product message for sku (price from its name, stock from the shelf)."""
        return self.pb2.Product(
            sku=sku, name=sku.replace("-", " "), price_cents=1250, stock=self.stock[sku]
        )

    def GetProduct(self, request, context):  # noqa: N802 (gRPC's method names)
        if request.sku not in self.stock:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no product {request.sku!r}")
        return self.product(request.sku)

    def ListProducts(self, request, context):  # noqa: N802
        skus = sorted(self.stock)[: request.limit or None]
        for sku in skus:
            yield self.product(sku)

    def Restock(self, request_iterator, context):  # noqa: N802
        updates, skus, units = 0, set(), 0
        for delta in request_iterator:
            with self.lock:
                self.stock[delta.sku] = self.stock.get(delta.sku, 0) + delta.delta
            updates, units = updates + 1, units + delta.delta
            skus.add(delta.sku)
        return self.pb2.RestockSummary(updates=updates, skus=len(skus), units=units)

    def ReserveStock(self, request, context):  # noqa: N802
        seen = Reservation(request.sku, request.qty, context.time_remaining())
        self.reservations.append(seen)
        end = time.monotonic() + self.work_s
        while time.monotonic() < end:
            if not context.is_active():
                seen.outcome = "stopped early"
                return self.pb2.Reservation()
            time.sleep(0.01)
        if request.sku not in self.stock:
            seen.outcome = "refused"
            context.abort(grpc.StatusCode.NOT_FOUND, f"no product {request.sku!r}")
        with self.lock:
            if self.stock[request.sku] < request.qty:
                seen.outcome = "refused"
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"only {self.stock[request.sku]} of {request.sku!r} left",
                )
            self.stock[request.sku] -= request.qty
        seen.outcome = "reserved" if context.is_active() else "done late"
        return self.pb2.Reservation(
            sku=request.sku,
            qty=request.qty,
            stock_left=self.stock[request.sku],
            order_id=request.order_id,
        )


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


class FirehoseServicer(InventoryServicer):
    """Stream products as fast as the client lets it: ListProducts never ends by itself.

    Each Product carries `name_bytes` of name, so flow control shows after a few
    hundred messages. `sent` counts messages handed to gRPC; `ended` says how the
    call ended ("cancelled" when the client cancelled it).
    """

    def __init__(self, name_bytes: int = 1000) -> None:
        super().__init__()
        self.name, self.sent, self.ended = "x" * name_bytes, 0, "open"
        self.stopped = threading.Event()

    def ListProducts(self, request, context):  # noqa: N802
        self.sent, self.ended = 0, "open"
        self.stopped.clear()
        context.add_callback(self._on_end)
        while context.is_active():
            self.sent += 1
            yield self.pb2.Product(sku=f"sku-{self.sent:07d}", name=self.name, price_cents=100)

    def _on_end(self) -> None:
        self.ended = "cancelled" if self.ended == "open" else self.ended
        self.stopped.set()


def make_products_app(inventory: InventoryServicer):
    """Return a FastAPI app serving GET /products/{sku} from the same shelf as inventory."""
    from fastapi import FastAPI, HTTPException

    app = FastAPI(title="products")

    @app.get("/products/{sku}")
    async def get_product(sku: str) -> dict:
        if sku not in inventory.stock:
            raise HTTPException(status_code=404, detail=f"no product {sku!r}")
        return {
            "sku": sku,
            "name": sku.replace("-", " "),
            "price_cents": 1250,
            "stock": inventory.stock[sku],
        }

    return app
