"""The shop written once in labsupport.shop answers exactly like the service lesson 01 writes in cells."""

from __future__ import annotations

import pathlib

import nbformat
from fastapi.testclient import TestClient

from labsupport.shop import make_orders_app

LESSON = pathlib.Path(__file__).parents[1] / "notebooks" / "01_rest_with_fastapi.ipynb"
PRELUDE = """
from fastapi import FastAPI, Header, HTTPException, Response
from pydantic import BaseModel, Field
"""


def notebook_orders_app():
    """Run the lesson's own orders cells and return their app and its orders dict."""
    cells = [c.source for c in nbformat.read(LESSON, as_version=4).cells if c.cell_type == "code"]
    wanted = [s for s in cells if s.startswith(("class OrderIn(BaseModel):", '@app.get("/orders/'))]
    assert len(wanted) == 2, "lesson 01 no longer writes the orders service in two cells"
    namespace: dict = {}
    exec(PRELUDE + "\n".join(wanted), namespace)
    return namespace["app"], namespace["orders"]


SCENARIO = [
    ("POST", "/orders", {"sku": "mug-blue", "qty": 2}, {"Idempotency-Key": "k1"}),
    ("POST", "/orders", {"sku": "mug-blue", "qty": 2}, {"Idempotency-Key": "k1"}),  # a retry
    ("POST", "/orders", {"sku": "teapot", "qty": 1}, {"Idempotency-Key": "k1"}),  # key reused
    ("POST", "/orders", {"sku": "mug-blue", "qty": 2}, {}),
    ("POST", "/orders", {"sku": "mug-blue", "qty": 0}, {}),  # invalid
    ("GET", "/orders/4", None, {}),
    ("GET", "/orders/999", None, {}),
    ("PUT", "/orders/500", {"sku": "mug-red", "qty": 1}, {}),
    ("PUT", "/orders/500", {"sku": "mug-red", "qty": 3}, {}),
    ("DELETE", "/orders/500", None, {}),
    ("DELETE", "/orders/500", None, {}),
    ("GET", "/orders/5", None, {}),
]


def replay(app) -> list[tuple]:
    answers = []
    with TestClient(app) as client:
        for method, path, body, headers in SCENARIO:
            reply = client.request(method, path, json=body, headers=headers)
            payload = reply.json() if reply.content and reply.status_code < 400 else None
            answers.append(
                (method, path, reply.status_code, payload, reply.headers.get("location"))
            )
    return answers


def test_the_notebooks_orders_service_and_the_shops_answer_alike():
    shop = make_orders_app()
    lesson, lesson_orders = notebook_orders_app()
    lesson_orders.update({k: dict(v) for k, v in shop.state.orders.items()})  # same seed data
    assert replay(lesson) == replay(shop)


def test_a_reused_idempotency_key_with_another_order_is_refused_by_both():
    for app in (make_orders_app(), notebook_orders_app()[0]):
        statuses = [a[2] for a in replay(app)[:3]]
        assert statuses == [201, 201, 422]
