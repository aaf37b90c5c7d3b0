"""Build the shop's REST services for lesson 01: orders, inventory, users and payments.

The lesson notebook writes the orders and inventory services in its own cells, route by
route. These factories hold the same services, plus users and payments, so the gateway
experiments, the exercise checks and the property test can import them. Each call
returns a fresh app with fresh data, so a re-run cell or a new check starts clean.

    from labsupport.lessons.rest01 import make_orders_app
    run = serve_app(make_orders_app(), name="orders")
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Path, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

SKU_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
OrderId = Annotated[int, Path(ge=1, le=2**31 - 1)]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
KNOWN_USERS = range(1, 51)


class OrderIn(BaseModel):
    """Hold what a client sends to place an order."""

    sku: str = Field(pattern=SKU_PATTERN, examples=["mug-blue"])
    qty: int = Field(gt=0, le=100)
    user_id: int = Field(default=7, ge=1, le=2**31 - 1)


class PriceIn(BaseModel):
    """Hold a new price for one product."""

    price_cents: int = Field(ge=0, le=10_000_000)


def answer_bad_bytes_with_422(app: FastAPI) -> FastAPI:
    """Make 422 replies survive request bodies that are not UTF-8.

    FastAPI's own handler echoes the body back in its error list and crashes (500) when
    those bytes are not text: the lesson's property test found it. This handler writes
    undecodable bytes with replacement characters instead.
    """

    async def unprocessable(request: Request, exc: RequestValidationError) -> JSONResponse:
        readable = {bytes: lambda raw: raw.decode("utf-8", "replace")}
        detail = jsonable_encoder(exc.errors(), custom_encoder=readable)
        return JSONResponse(status_code=422, content={"detail": detail})

    app.add_exception_handler(RequestValidationError, unprocessable)
    return app


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
            response.headers["Idempotent-Replayed"] = "true"
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


def make_inventory_app(products: int = 400, max_age_s: int = 1) -> FastAPI:
    """Return the inventory service: a product list that answers ETag / If-None-Match with 304."""
    app = FastAPI(title="inventory", description="Products, prices and stock of the shop.")
    answer_bad_bytes_with_422(app)
    catalog = {
        f"sku-{i:04d}": {"sku": f"sku-{i:04d}", "name": f"product {i}", "price_cents": 100 + i}
        for i in range(products)
    }
    app.state.catalog, app.state.version, app.state.renders = catalog, 1, 0

    def cache_headers() -> dict[str, str]:
        return {"ETag": f'"v{app.state.version}"', "Cache-Control": f"max-age={max_age_s}"}

    @app.get("/products")
    async def list_products(if_none_match: Annotated[str | None, Header()] = None) -> Response:
        headers = cache_headers()
        if if_none_match is not None and matches(if_none_match, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        app.state.renders += 1  # the expensive part a 304 skips
        body = json.dumps(list(catalog.values()))
        return Response(body, media_type="application/json", headers=headers)

    @app.get("/products/{sku}")
    async def get_product(sku: str, response: Response) -> dict:
        if sku not in catalog:
            raise HTTPException(status_code=404, detail=f"no product {sku!r}")
        response.headers.update(cache_headers())
        return catalog[sku]

    @app.put("/products/{sku}/price")
    async def set_price(sku: str, price: PriceIn) -> dict:
        if sku not in catalog:
            raise HTTPException(status_code=404, detail=f"no product {sku!r}")
        catalog[sku] = {**catalog[sku], "price_cents": price.price_cents}
        app.state.version += 1
        return catalog[sku]

    return app


def matches(if_none_match: str, etag: str) -> bool:
    """Tell whether an If-None-Match header names etag (weak comparison, as RFC 9110 asks)."""
    wanted = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in wanted or etag.removeprefix("W/") in wanted


def make_users_app() -> FastAPI:
    """Return the users service: profiles of users 1-50."""
    app = FastAPI(title="users", description="Who buys in the shop.")
    answer_bad_bytes_with_422(app)

    @app.get("/users/{user_id}")
    async def get_user(user_id: UserId) -> dict:
        if user_id not in KNOWN_USERS:
            raise HTTPException(status_code=404, detail=f"no user {user_id}")
        return {"user_id": user_id, "name": f"user {user_id}", "email": f"u{user_id}@shop.test"}

    return app


def make_payments_app() -> FastAPI:
    """Return the payments service: payments by id (1-100) and by user."""
    app = FastAPI(title="payments", description="Charges of the shop's orders.")
    answer_bad_bytes_with_422(app)

    def payment(payment_id: int) -> dict:
        user_id = KNOWN_USERS[payment_id % len(KNOWN_USERS)]
        return {"payment_id": payment_id, "user_id": user_id, "amount_cents": 250 * payment_id}

    @app.get("/payments/{payment_id}")
    async def get_payment(payment_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> dict:
        if payment_id > 100:
            raise HTTPException(status_code=404, detail=f"no payment {payment_id}")
        return payment(payment_id)

    @app.get("/users/{user_id}/payments")
    async def payments_of_user(user_id: UserId) -> list[dict]:
        return [payment(i) for i in range(1, 101) if payment(i)["user_id"] == user_id]

    return app
