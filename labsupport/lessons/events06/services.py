"""Lesson 06's services: orders of any size, thin and fat events, and the consumers that read them.

The orders service is the shop's own (`make_orders_app()`); an order is committed by
writing it into the service's store (`app.state.orders`), now or after a lag, which is how
the lesson plays a slow commit or a replica that has not caught up yet.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

SKUS = ("mug-blue", "mug-red", "tea-sencha", "tea-assam", "teapot-iron", "kettle-steel")


def make_order(order_id: int, lines: int = 1, version: int = 1) -> dict:
    """Return a whole order as the orders service stores it: customer, address, `lines` lines."""
    items = [
        {"sku": SKUS[(order_id + n) % len(SKUS)], "qty": 1 + n % 3, "price_cents": 450 + 25 * n}
        for n in range(lines)
    ]
    return {
        "order_id": order_id,
        "version": version,
        "status": "placed",
        "user_id": 7,
        "email": "u7@shop.test",
        "address": {
            "name": "Ada Lovelace",
            "street": f"{version} Analytical Row",
            "city": "London",
            "postcode": "N1 7AA",
        },  # fmt: skip
        "lines": items,
        "total_cents": sum(i["qty"] * i["price_cents"] for i in items),
    }


def commit_order(app: Any, order: dict, lag_s: float = 0.0) -> threading.Timer | None:
    """Write order into the orders service's store, now or after lag_s (a late commit)."""
    if lag_s <= 0:
        app.state.orders[order["order_id"]] = order
        return None
    timer = threading.Timer(lag_s, commit_order, args=(app, order))
    timer.daemon = True
    timer.start()
    return timer


def thin_event(order: dict, kind: str = "OrderPlaced") -> bytes:
    """Return a thin event: its type, the order's id and version, nothing else."""
    event = {"type": kind, "v": 1, "order_id": order["order_id"], "version": order["version"]}
    return json.dumps(event).encode()


def fat_event(order: dict, kind: str = "OrderPlaced") -> bytes:
    """Return a fat event: the same fields plus the whole order."""
    event = {"type": kind, "v": 1, "order_id": order["order_id"], "version": order["version"]}
    return json.dumps({**event, "order": order}).encode()


def read_order(client: httpx.Client, order_id: int, min_version: int = 0, tries: int = 1,
               first_wait_s: float = 0.01) -> tuple[dict | None, int]:  # fmt: skip
    """GET an order until it exists at min_version or better, at most `tries` times.

    Waits first_wait_s, doubling, between tries. Returns (order or None, calls made).
    """
    wait_s = first_wait_s
    for attempt in range(1, tries + 1):
        reply = client.get(f"/orders/{order_id}")
        if reply.status_code == 200 and reply.json().get("version", 0) >= min_version:
            return reply.json(), attempt
        if reply.status_code not in (200, 404):
            reply.raise_for_status()
        if attempt < tries:
            time.sleep(wait_s)
            wait_s *= 2
    return None, tries


@dataclass
class Got:
    """What one consumer ended up with for one event."""

    consumer: str
    order_id: int
    t_s: float  # perf_counter when the consumer had what it needed
    needed: bool  # this consumer needed the order's details for this event
    fetched: bool  # it called the orders service for them
    order: dict | None  # the details it had (None when it needed none or never got them)
    calls: int = 0


@dataclass
class DetailConsumer:
    """A consumer that takes details from a fat event, or GETs them when a thin one needs them.

    `needs(event) -> bool` says whether this consumer needs the order's details for an
    event. `jitter_s` waits a random 0..jitter_s before calling back; `tries` and
    `min_version` make the callback read with `read_order` (retry on 404, version check).
    """

    name: str
    client: httpx.Client
    needs: Any = lambda event: True
    jitter_s: float = 0.0
    tries: int = 1
    check_version: bool = False
    got: list[Got] = field(default_factory=list)
    seed: int = 0

    headers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.client.headers.update(self.headers)

    def callback(self, ch, method, properties, body) -> None:
        event = json.loads(body)
        order, fetched, calls = event.get("order"), False, 0
        needed = bool(self.needs(event))
        if order is None and needed:
            if self.jitter_s:
                time.sleep(self._rng.uniform(0, self.jitter_s))
            wanted = event["version"] if self.check_version else 0
            order, calls = read_order(self.client, event["order_id"], wanted, self.tries)
            fetched = True
        now = time.perf_counter()
        self.got.append(Got(self.name, event["order_id"], now, needed, fetched, order, calls))
        ch.basic_ack(method.delivery_tag)
