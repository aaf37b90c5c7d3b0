"""What lesson 06's checks run learners' code against: a live orders service, its wire, a queue.

`orders_service()` serves a fresh orders service behind a byte-counting proxy, once per
check. Per case, `shipping_rig(make_callback, orders)` declares a queue on the lab's
RabbitMQ and consumes it with the learner's callback on a `BackgroundConsumer` (no prefetch
cap, so one missing ack cannot hold the others back), and `race_rig(orders)` hands out an
httpx client that stops a learner's loop after too many calls or too long.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from labsupport import ensure_rabbitmq, fresh_name, serve_app
from labsupport.faults import FaultyProxy
from labsupport.messaging import BackgroundConsumer, connect_amqp
from labsupport.observe import CallLog
from labsupport.shop import make_orders_app
from labsupport.waiting import wait_until

from .services import commit_order, make_order


class RunawayStopped(BaseException):  # noqa: N818 - it names an event, like KeyboardInterrupt
    """Raised into a learner's loop by the check's client once it made far too many calls."""


@dataclass
class ShippingRig:
    """A live orders service, the learner's consumer on a fresh queue, and what it did."""

    app: Any
    log: CallLog
    wire: FaultyProxy
    channel: Any  # the check's own pika channel, used from the check's thread only
    queue: str
    client: httpx.Client
    cache: dict
    labels: list
    handled: list = field(default_factory=list)
    consumer: BackgroundConsumer | None = None

    def commit(self, order_id: int, version: int = 1, lines: int = 1) -> dict:
        """Write an order into the orders service (it is readable at once)."""
        order = make_order(order_id, lines, version)
        commit_order(self.app, order)
        return order

    def publish(self, *events: dict) -> None:
        """Publish events (dicts) as JSON bodies; wait until the consumer has handled them all."""
        before = len(self.handled)
        for event in events:
            self.channel.basic_publish("", self.queue, json.dumps(event).encode())

        def done() -> bool:
            return len(self.handled) >= before + len(events) or self.consumer_error() is not None

        wait_until(done, 8, f"the consumer to handle {len(events)} events")
        if self.consumer_error() is not None:
            raise AssertionError(f"the consumer stopped with {self.consumer_error()!r}")

    def consumer_error(self) -> BaseException | None:
        return None if self.consumer is None else self.consumer.error

    def http_bytes(self) -> int:
        """Return the bytes the orders wire carried so far, once its counters stopped moving.

        The proxy counts a chunk after forwarding it, so a reply can reach the client a
        moment before its bytes are counted.
        """
        seen = [-1]

        def settled() -> bool:
            stats = self.wire.stats
            now = stats.bytes_up + stats.bytes_down
            still, seen[0] = now == seen[0], now
            return still

        wait_until(settled, 5, "the byte counters to settle", interval_s=0.03)
        return seen[0]

    def depth_after_stop(self) -> int:
        """Stop the consumer (its unacked messages go back) and count what waits in the queue."""
        if self.consumer is not None:
            self.consumer.stop()
        depths = []
        for _ in range(4):  # the broker requeues on its own time: look a few times
            depths.append(self.channel.queue_declare(self.queue, passive=True).method.message_count)
            self.channel.connection.sleep(0.05)
        return max(depths)


@dataclass
class Orders:
    """One live orders service for a whole check, behind a byte-counting proxy."""

    app: Any
    log: CallLog
    running: Any
    wire: FaultyProxy


@contextmanager
def orders_service() -> Iterator[Orders]:
    """Serve a fresh orders service (wrapped in a CallLog) behind a FaultyProxy; stop both after."""
    app = make_orders_app()
    log = CallLog(app)
    running = serve_app(log, name="check-orders")
    wire = FaultyProxy(running, name="check-orders-wire")
    try:
        yield Orders(app, log, running, wire)
    finally:
        wire.stop()
        running.stop()


@contextmanager
def shipping_rig(make_callback, orders: Orders) -> Iterator[ShippingRig]:
    """Consume a fresh queue with make_callback(client, cache, labels), calls counted from zero."""
    url = ensure_rabbitmq().url
    client = httpx.Client(base_url=orders.wire.url_for(orders.running.url), timeout=2.0)
    queue = fresh_name("check.shipping")
    orders.log.clear()
    with connect_amqp(url) as connection:
        channel = connection.channel()
        channel.queue_declare(queue, arguments={"x-expires": 120_000})
        rig = ShippingRig(orders.app, orders.log, orders.wire, channel, queue, client, {}, [])
        try:
            callback = make_callback(client, rig.cache, rig.labels)

            def counted(ch, method, properties, body) -> None:
                try:
                    callback(ch, method, properties, body)
                finally:
                    rig.handled.append(body)

            rig.consumer = BackgroundConsumer(url, queue, counted, prefetch=0,
                                              name="check-shipping", max_s=30).start()  # fmt: skip
            yield rig
        finally:
            if rig.consumer is not None:
                rig.consumer.stop()
            client.close()
            channel.queue_delete(queue)


@dataclass
class RaceRig:
    """A live orders service where writes land late, and a client that counts its calls."""

    app: Any
    log: CallLog
    client: httpx.Client

    def commit(self, order_id: int, version: int = 1, lag_s: float = 0.0) -> None:
        """Make order_id readable at `version`, now or lag_s from now."""
        commit_order(self.app, make_order(order_id, 1, version), lag_s)

    def calls(self) -> int:
        return self.log.count()

    def gaps_s(self) -> list[float]:
        return self.log.gaps_s()


@contextmanager
def race_rig(orders: Orders, max_calls: int = 40, max_s: float = 1.0) -> Iterator[RaceRig]:
    """Count calls from zero; hand out a client that stops a loop running away.

    The client raises RunawayStopped into the caller's loop at its next call once it made
    max_calls calls, or once max_s passed since its first call.
    """
    lock, made, first_s = threading.Lock(), [0], []

    def guard(request: httpx.Request) -> None:
        with lock:
            made[0] += 1
            if not first_s:
                first_s.append(time.monotonic())
            if made[0] > max_calls or time.monotonic() - first_s[0] > max_s:
                raise RunawayStopped(f"stopped by the check after {made[0] - 1} calls")

    orders.log.clear()
    client = httpx.Client(
        base_url=orders.running.url, timeout=2.0, event_hooks={"request": [guard]}
    )
    try:
        yield RaceRig(orders.app, orders.log, client)
    finally:
        client.close()
