"""Ordering with competing consumers, and order kept per key by partitioning (lesson 04)."""

from __future__ import annotations

import json
import time
import zlib

from labsupport.messaging import connect_amqp, wait_for_consumers
from labsupport.waiting import wait_until

from .services import ConsumerThread

STEP_MS = {"placed": 30.0, "paid": 2.0, "shipped": 2.0}  # placing an order is the slow step


def partition_for(order_id: int, partitions: int) -> str:
    """Pick a partition from the key alone: every event of one order goes to the same queue."""
    return f"part-{zlib.crc32(str(order_id).encode()) % partitions}"


def _work_ms(body: bytes) -> float:
    return STEP_MS[json.loads(body)["step"]]


def run_order_events(
    url: str, name: str, events: list[tuple[int, str]], *, partitions: int = 0, consumers: int = 4
) -> list[tuple[int, str]]:
    """Publish (order_id, step) events in order; return them in the order they were finished.

    partitions=0: one shared queue and `consumers` competing consumers. partitions=N: a
    direct exchange routes each event by `partition_for(order_id, N)` to one of N queues,
    each with a single consumer. All queues are exclusive to this call's connection.
    """
    with connect_amqp(url) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(name, exchange_type="direct", auto_delete=True)
        keys = [f"part-{i}" for i in range(partitions)] if partitions else ["shared"]
        for key in keys:
            channel.queue_declare(f"{name}.{key}", arguments={"x-expires": 60_000})
            channel.queue_bind(f"{name}.{key}", name, routing_key=key)
        per_queue = 1 if partitions else consumers
        threads = [
            ConsumerThread(url, f"{name}.{key}", work_ms=_work_ms, name=f"{key}-{n}")
            for key in keys
            for n in range(per_queue)
        ]
        for thread in threads:
            thread.start()
        try:
            for key in keys:
                wait_for_consumers(url, f"{name}.{key}", per_queue)
            for order_id, step in events:
                key = partition_for(order_id, partitions) if partitions else "shared"
                body = json.dumps({"order_id": order_id, "step": step}).encode()
                channel.basic_publish(name, key, body)
            total = len(events)
            wait_until(lambda: sum(len(t.done) for t in threads) >= total, 15, "all events done")
        finally:
            for thread in threads:
                thread.stop()
            for key in keys:
                channel.queue_delete(f"{name}.{key}")
    finished = sorted((t, body) for thread in threads for t, body in thread.done)
    return [(json.loads(b)["order_id"], json.loads(b)["step"]) for _, b in finished]


def orders_out_of_order(finished: list[tuple[int, str]]) -> list[int]:
    """Return the orders whose steps finished in another order than placed, paid, shipped."""
    seen: dict[int, list[str]] = {}
    for order_id, step in finished:
        seen.setdefault(order_id, []).append(step)
    return sorted(i for i, steps in seen.items() if steps != ["placed", "paid", "shipped"])


def settled_depth(url: str, queue: str, quiet_s: float = 0.3, timeout_s: float = 3.0) -> int:
    """Return a queue's depth once it has stopped changing for quiet_s.

    Without publisher confirms, basic_publish returns before the broker has enqueued
    the message, so a count taken at once can be short.
    """
    with connect_amqp(url) as connection:
        channel = connection.channel()
        deadline = time.monotonic() + timeout_s
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            depth = channel.queue_declare(queue, passive=True).method.message_count
            if depth != last:
                last, since = depth, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                break
            connection.process_data_events(time_limit=0.05)
        return last
