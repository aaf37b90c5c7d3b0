"""Lesson 03's servicers: inventory (checks, bench), a firehose stream, inventory over REST.

The lesson writes its own servicers in cells; these are the live services behind the
exercise checks and `make bench`. They hold no gRPC state until one is built, and they
load the generated modules (`labsupport.shop.load_shop`) only then.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import grpc

from labsupport.shop import load_shop

__all__ = ["FirehoseServicer", "InventoryServicer", "Reservation", "make_products_app"]


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
