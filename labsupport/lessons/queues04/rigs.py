"""Lesson 04's experiment drivers: routing tries, numbered orders, tallies, bursts, a kill.

The notebook shows the real redis-py and pika calls; what would only get in the way
there (publishing numbered orders, counting lost and duplicated effects, killing a
worker at the worst moment, sampling a queue's depth) lives here.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import pika
import redis

from labsupport.faults import start_worker
from labsupport.messaging import StoppableThread, connect_amqp, drain_queue, queue_depth
from labsupport.waiting import wait_until

from .services_billing import billing_worker


def try_exchange(
    connection, kind: str, bindings: dict[str, list[str]], routing_keys: list[str]
) -> dict[str, list[str]]:
    """Declare an exchange of `kind`, bind one queue per entry, publish, and say who got what.

    `bindings` maps a queue's label to the binding keys of its queue. Every message
    carries its routing key as its body, so the result reads as "queue -> keys it got".
    Publishes are confirmed, so every message is in its queues before they are read.
    The exchange and the queues are deleted before returning.
    """
    channel = connection.channel()
    channel.confirm_delivery()
    exchange = f"shop.{kind}.{time.monotonic_ns() % 1_000_000:06d}"
    channel.exchange_declare(exchange, exchange_type=kind, auto_delete=True)
    queues = {}
    for label, keys in bindings.items():
        queues[label] = channel.queue_declare("", exclusive=True).method.queue
        for key in keys:
            channel.queue_bind(queues[label], exchange, routing_key=key)
    for key in routing_keys:
        channel.basic_publish(exchange, key, key.encode())
    got = {}
    for label, queue in queues.items():
        got[label] = [body.decode() for _, _, body in drain_queue(channel, queue)]
        channel.queue_delete(queue)
    channel.exchange_delete(exchange)
    channel.close()
    return got


def publish_orders(url: str, queue: str, count: int, *, persistent: bool = False) -> list[str]:
    """Publish `count` orders to queue with message ids `<queue>/<n>`; return the ids."""
    ids = [f"{queue}/{n}" for n in range(count)]
    mode = pika.DeliveryMode.Persistent if persistent else pika.DeliveryMode.Transient
    with connect_amqp(url) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for n, message_id in enumerate(ids):
            body = f'{{"order_id": {n}, "sku": "mug-blue", "qty": 1}}'.encode()
            props = pika.BasicProperties(message_id=message_id, delivery_mode=mode)
            channel.basic_publish("", queue, body, props)
    return ids


@dataclass(frozen=True)
class Tally:
    """What happened to a batch of messages, counted from the side effects they caused."""

    published: int
    done_once: int
    lost: int
    duplicated: int
    redelivered: int = 0

    def row(self) -> dict[str, int]:
        return self.__dict__.copy()


def tally(effects: list[str], ids: list[str], redelivered: int = 0) -> Tally:
    """Count lost and duplicated messages: an id with no effect is lost, each extra is a duplicate."""
    seen = Counter(effects)
    unknown = set(seen) - set(ids)
    if unknown:
        raise ValueError(f"effects for messages nobody published: {sorted(unknown)[:3]}")
    return Tally(
        published=len(ids),
        done_once=sum(1 for i in ids if seen[i] == 1),
        lost=sum(1 for i in ids if seen[i] == 0),
        duplicated=sum(n - 1 for n in seen.values() if n > 1),
        redelivered=redelivered,
    )


def publish_burst(url: str, queue: str, count: int) -> float:
    """Publish `count` orders as fast as one connection can; return how long it took (s)."""
    start = time.monotonic()
    with connect_amqp(url) as connection:
        channel = connection.channel()
        for n in range(count):
            channel.basic_publish("", queue, str(n).encode())
    return time.monotonic() - start


class DepthSampler(StoppableThread):
    """Sample a queue's depth every `interval_s`; `samples` holds `(monotonic time, depth)`."""

    def __init__(self, url: str, queue: str, interval_s: float = 0.05, max_s: float = 60.0):
        super().__init__("depth-sampler", max_s)
        self.url, self.queue, self.interval_s = url, queue, interval_s
        self.samples: list[tuple[float, int]] = []

    def loop(self) -> None:
        with connect_amqp(self.url) as connection:
            channel = connection.channel()
            self.ready.set()
            while self.keep_going():
                depth = channel.queue_declare(self.queue, passive=True).method.message_count
                self.samples.append((time.monotonic(), depth))
                connection.process_data_events(time_limit=self.interval_s)


def kill_mid_message(
    amqp_url: str, redis_url: str, queue: str, key: str, published: int, *,
    auto_ack: bool = False, idempotent: bool = False, stall_after: int = 5, prefetch: int = 5,
    timeout_s: float = 20.0,
):  # fmt: skip
    """Start `billing_worker` in a process, wait until it hangs mid-message, SIGKILL it.

    Before the kill it also waits until the broker has handed the worker all it will:
    the prefetch window (manual acks) or every message (auto-ack), so the counts that
    follow are the same on every run. Returns the dead `Worker` (exit code -9).
    """
    r = redis.Redis.from_url(redis_url)
    worker = start_worker(
        billing_worker, amqp_url, queue, redis_url, key, auto_ack=auto_ack,
        idempotent=idempotent, stall_after=stall_after, prefetch=prefetch, name=f"billing.{key}",
    )  # fmt: skip

    def stalled() -> bool:
        if worker.exitcode is not None:
            raise RuntimeError(f"{worker!r} ended before reaching its stall: see its output above")
        return bool(r.exists(f"{key}:stalled"))

    try:
        wait_until(stalled, timeout_s, "the worker reaching its stall")
        handed_over = published if auto_ack else min(published, stall_after - 1 + prefetch)
        left = published - handed_over
        wait_until(lambda: queue_depth(amqp_url, queue) == left, 5, "the prefetch window filling")
    finally:
        worker.kill()
        r.close()
    return worker
