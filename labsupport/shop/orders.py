"""The orders service: list, read, place (POST, with idempotency keys), put, cancel.

Lesson 01 writes this service in its own cells, route by route; this factory holds the
same service so later lessons, the exercise checks and the tests can start it in one
line. `tests/test_shop.py` proves the notebook's version and this one answer alike.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Response

from .errors import answer_bad_bytes_with_422
from .models import OrderId, OrderIn, UserId

__all__ = ["make_orders_app"]


def make_orders_app() -> FastAPI:
    """Return the orders service: list, read, place (POST), put, cancel; idempotency keys."""
    app = FastAPI(title="orders", description="Orders of the lab's shop.")
    answer_bad_bytes_with_422(app)
    orders: dict[int, dict] = {}
    replies: dict[str, tuple[dict, dict]] = {}  # Idempotency-Key -> (request, order placed)
    app.state.orders, app.state.created = orders, 0  # created counts POSTs that made an order

    @app.get("/orders")
    async def list_orders() -> list[dict]:
        return list(orders.values())

    @app.get("/orders/{order_id}")
    async def get_order(order_id: OrderId) -> dict:
        if order_id not in orders:
            raise HTTPException(status_code=404, detail=f"no order {order_id}")
        return orders[order_id]

    # async def on purpose: one event loop runs these handlers and nothing awaits between
    # looking a key up and storing it, so two retries of one POST cannot both get in.
    @app.post("/orders", status_code=201)
    async def place_order(
        order: OrderIn,
        response: Response,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> dict:
        if idempotency_key is not None and idempotency_key in replies:
            request, placed = replies[idempotency_key]
            if request != order.model_dump():
                raise HTTPException(422, "this Idempotency-Key was already used for another order")
        else:
            placed = {"order_id": max(orders, default=0) + 1, **order.model_dump()}
            placed["status"] = "placed"
            orders[placed["order_id"]] = placed
            app.state.created += 1
            if idempotency_key is not None:
                replies[idempotency_key] = (order.model_dump(), placed)
        response.headers["Location"] = f"/orders/{placed['order_id']}"
        return placed

    @app.put("/orders/{order_id}")
    async def put_order(order_id: OrderId, order: OrderIn, response: Response) -> dict:
        response.status_code = 200 if order_id in orders else 201
        orders[order_id] = {"order_id": order_id, **order.model_dump(), "status": "placed"}
        return orders[order_id]

    @app.delete("/orders/{order_id}", status_code=204)
    async def cancel_order(order_id: OrderId) -> Response:
        if orders.pop(order_id, None) is None:
            raise HTTPException(status_code=404, detail=f"no order {order_id}")
        return Response(status_code=204)

    @app.get("/users/{user_id}/orders")
    async def orders_of_user(user_id: UserId) -> list[dict]:
        return [o for o in orders.values() if o["user_id"] == user_id]

    for order_id, sku, qty in ((1, "mug-blue", 2), (2, "tea-sencha", 1), (3, "mug-red", 4)):
        orders[order_id] = {"order_id": order_id, "sku": sku, "qty": qty, "user_id": 7}
        orders[order_id]["status"] = "placed"
    return app
