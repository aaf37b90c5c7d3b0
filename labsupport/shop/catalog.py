"""The shop's other REST services: inventory (with ETags), users and payments."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Path, Response

from .errors import answer_bad_bytes_with_422
from .models import KNOWN_USERS, PriceIn, UserId

__all__ = ["make_inventory_app", "make_payments_app", "make_users_app", "matches"]


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
