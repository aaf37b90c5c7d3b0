"""Lesson 06's main experiment: thin against fat events, bytes counted on the wire.

`EventLab` serves the orders service, puts one FaultyProxy in front of it and one in
front of RabbitMQ (their byte counters are the wire), binds a queue per consumer to a
fanout exchange, and runs rounds: commit orders, publish one event per order, wait
until every consumer has what it needs, read the counters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from statistics import median

import httpx
import pika

from labsupport import fresh_name, serve_app
from labsupport.faults import FaultyProxy
from labsupport.messaging import BackgroundConsumer, connect_amqp
from labsupport.observe import CallLog
from labsupport.shop import make_orders_app
from labsupport.waiting import wait_until

from .services import DetailConsumer, commit_order, fat_event, make_order, thin_event

CONSUMERS = ("billing", "shipping", "notifications", "analytics")


@dataclass
class Round:
    """One round's measurement: the design, order size, share needing details, what moved."""

    design: str
    lines: int
    share: float
    events: int
    broker_bytes: int
    http_bytes: int
    calls: int
    waits_ms: list[float] = field(default_factory=list)  # publish -> has the details it needs
    missing: int = 0  # deliveries that needed the order and ended without it
    stale: int = 0  # deliveries that got an older version than the event announced
    max_calls: int = 0  # most calls one delivery made

    @property
    def total_bytes(self) -> int:
        return self.broker_bytes + self.http_bytes

    @property
    def bytes_per_event(self) -> float:
        return self.total_bytes / self.events


def needs_share(index: int, share: float):
    """Return needs(event) for consumer number `index`: true for exactly `share` of order ids."""
    return lambda event: (event["order_id"] * 7 + index * 3) % 10 < round(share * 10)


class EventLab:
    """Orders service, two byte-counting proxies, a fanout exchange and one consumer per name."""

    def __init__(self, rabbit, consumers=CONSUMERS, jitter_s: float = 0.0, tries: int = 1,
                 check_version: bool = False, headers: dict | None = None) -> None:  # fmt: skip
        self.app = make_orders_app()
        self.log = CallLog(self.app)
        # Fresh names: a second EventLab (or the notebook's own orders service) stays up.
        self.orders = serve_app(self.log, name=fresh_name("orders"))
        self.http_wire = FaultyProxy(self.orders, name=fresh_name("orders-wire"))
        self.amqp_wire = FaultyProxy(rabbit, name=fresh_name("amqp-wire"))
        self.amqp_url = self.amqp_wire.url_for(rabbit.url)
        self.exchange, self.share, self.next_id = fresh_name("orders.placed"), 1.0, 1000
        self.last: list[dict] = []
        self.sent_s: dict[int, float] = {}
        self.consumers, self.threads = [], []
        with connect_amqp(rabbit.url) as connection:
            channel = connection.channel()
            channel.exchange_declare(self.exchange, exchange_type="fanout", auto_delete=True)
            for index, name in enumerate(consumers):
                queue = fresh_name(f"{name}.orders")
                channel.queue_declare(queue, arguments={"x-expires": 120_000})
                channel.queue_bind(queue, self.exchange)
                client = httpx.Client(base_url=self.http_wire.url_for(self.orders.url))
                consumer = DetailConsumer(name, client, self._needs(index), jitter_s, tries,
                                          check_version, seed=index, headers=headers or {})  # fmt: skip
                self.consumers.append(consumer)
                thread = BackgroundConsumer(self.amqp_url, queue, consumer.callback,
                                            prefetch=20, name=name, max_s=300)  # fmt: skip
                self.threads.append(thread.start())

    def _needs(self, index: int):
        return lambda event: needs_share(index, self.share)(event)

    def wire_bytes(self) -> tuple[int, int]:
        """Return (bytes through RabbitMQ, bytes over HTTP) so far, both ways."""
        amqp, http = self.amqp_wire.stats, self.http_wire.stats
        return amqp.bytes_up + amqp.bytes_down, http.bytes_up + http.bytes_down

    def run(self, design: str, share: float, lines: int = 1, events: int = 20,
            commit_lag_s: float = 0.0, update: bool = False) -> Round:  # fmt: skip
        """Commit `events` orders, publish a thin or fat event for each, wait, count.

        The commit lands commit_lag_s after the publish (0: before it). With update=True
        the round changes the last round's orders to their next version (OrderUpdated).
        """
        self.share = share
        if update:
            orders = [make_order(o["order_id"], lines, o["version"] + 1) for o in self.last]
        else:
            orders = [make_order(self.next_id + n, lines) for n in range(events)]
            self.next_id += events
        self.last, kind = orders, "OrderUpdated" if update else "OrderPlaced"
        make = fat_event if design == "fat" else thin_event
        for consumer in self.consumers:
            consumer.got.clear()
        self.log.clear()
        with pika.BlockingConnection(pika.URLParameters(self.amqp_url)) as connection:
            channel = connection.channel()
            before = self.wire_bytes()
            for order in orders:
                commit_order(self.app, order, commit_lag_s)
                self.sent_s[order["order_id"]] = time.perf_counter()
                channel.basic_publish(self.exchange, "", make(order, kind))
            self._wait_for_everyone(events)
            after = self.wire_bytes()
        needed, version = [g for g in self.got() if g.needed], orders[0]["version"]
        return Round(
            design, lines, share, events, after[0] - before[0], after[1] - before[1],
            self.log.count(), [1000 * (g.t_s - self.sent_s[g.order_id]) for g in needed],
            missing=sum(g.order is None for g in needed),
            stale=sum(g.order is not None and g.order["version"] < version for g in needed),
            max_calls=max((g.calls for g in needed), default=0),
        )  # fmt: skip

    def _wait_for_everyone(self, events: int) -> None:
        expected = events * len(self.consumers)
        wait_until(lambda: sum(len(c.got) for c in self.consumers) >= expected, 30, "every event")
        # The last acks are on their way through the proxy: wait until the counters settle.
        last = [self.wire_bytes()]

        def settled() -> bool:
            now = self.wire_bytes()
            still, last[0] = now == last[0], now
            return still

        time.sleep(0.05)
        wait_until(settled, 5, "the byte counters to settle", interval_s=0.05)

    def got(self) -> list:
        """Return what every consumer got in the last round."""
        return [g for c in self.consumers for g in c.got]

    def close(self) -> None:
        """Stop the consumers, the proxies and the orders service."""
        for thread in self.threads:
            thread.stop()
        for consumer in self.consumers:
            consumer.client.close()
        self.http_wire.stop()
        self.amqp_wire.stop()
        self.orders.stop()

    def __enter__(self) -> EventLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def sweep(lab: EventLab, shares, lines: int, events: int = 20, repeats: int = 1) -> list[Round]:
    """Run thin and fat rounds at every share; with repeats, keep the median-bytes round."""
    rounds = []
    for share in shares:
        for design in ("thin", "fat"):
            runs = [lab.run(design, share, lines, events) for _ in range(repeats)]
            rounds.append(sorted(runs, key=lambda r: r.total_bytes)[len(runs) // 2])
    return rounds


def per_share_rows(by_size: dict[str, list[Round]]) -> list[dict]:
    """Return one table row per share: kB per event for each size and design, calls per event."""
    rows: dict[float, dict] = {}
    calls: dict[float, float] = {}
    for size, rounds in by_size.items():
        for r in rounds:
            row = rows.setdefault(r.share, {"share": f"{r.share:.0%}"})
            row[f"{size} {r.design} kB"] = round(r.bytes_per_event / 1000, 2)
            if r.design == "thin":
                calls[r.share] = r.calls / r.events
    return [{**row, "thin calls per event": calls.get(share, 0.0)} for share, row in rows.items()]


def crossover(rounds: list[Round]) -> float | None:
    """Return the share where thin starts moving more bytes than fat (None if it never does)."""
    thin = sorted((r.share, r.total_bytes) for r in rounds if r.design == "thin")
    fat = median(r.total_bytes for r in rounds if r.design == "fat")
    for (s0, b0), (s1, b1) in zip(thin, thin[1:], strict=False):
        if b0 <= fat < b1:
            return s0 + (s1 - s0) * (fat - b0) / (b1 - b0)
    return None if thin[-1][1] <= fat else 0.0
