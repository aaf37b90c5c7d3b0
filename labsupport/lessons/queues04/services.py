"""Lesson 04's small services: a consumer that works then acks, a price RPC server, a relay.

Each is a `BackgroundConsumer` (labsupport.messaging): a thread that owns its own pika
connection and calls pika's `callback(ch, method, properties, body)`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pika
import redis

from labsupport.messaging import BackgroundConsumer
from labsupport.observe import log_hop


class ConsumerThread(BackgroundConsumer):
    """Consume a queue with manual acks: do the work, then ack, then record the message.

    `work_ms` is a number or a function of the body (uneven work). `handle(channel,
    properties, body)`, when given, runs before the ack (to publish onwards, say).
    `done` holds `(monotonic time, body)` per acked message, in the order they finished.
    """

    def __init__(self, url: str, queue: str, *, work_ms: float | Callable[[bytes], float] = 0.0,
                 handle: Callable | None = None, prefetch: int = 1, name: str = "consumer",
                 max_s: float = 60.0) -> None:  # fmt: skip
        super().__init__(url, queue, self.on_message, prefetch=prefetch, name=name, max_s=max_s)
        self.work_ms, self.handle = work_ms, handle
        self.done: list[tuple[float, bytes]] = []

    def on_message(self, ch, method, properties, body: bytes) -> None:
        if self.handle is not None:
            self.handle(ch, properties, body)
        work_ms = self.work_ms(body) if callable(self.work_ms) else self.work_ms
        if work_ms:
            time.sleep(work_ms / 1000)
        ch.basic_ack(method.delivery_tag)  # only after the work is done
        self.done.append((time.monotonic(), body))


class RpcServer(ConsumerThread):
    """Answer price requests on a queue: reply to `reply_to`, echoing `correlation_id`.

    `delay_s` maps a sku to how long that price takes to compute (a slow dependency).
    """

    PRICES_CENTS = {"mug-blue": 1200, "mug-red": 1250, "teapot": 3400}

    def __init__(self, url: str, queue: str, delay_s: dict[str, float] | None = None):
        super().__init__(url, queue, handle=self.reply, name="prices-rpc")
        self.delay_s = delay_s or {}

    def reply(self, channel, properties, body: bytes) -> None:
        sku = json.loads(body)["sku"]
        time.sleep(self.delay_s.get(sku, 0.0))
        answer = {"sku": sku, "price_cents": self.PRICES_CENTS.get(sku)}
        channel.basic_publish(
            exchange="",
            routing_key=properties.reply_to,
            body=json.dumps(answer).encode(),
            properties=pika.BasicProperties(correlation_id=properties.correlation_id),
        )


class Relay(ConsumerThread):
    """A service in a chain: take a message, work, pass it on with the same correlation id.

    With `out_queue` it publishes onwards; without, it appends to the Redis list
    `<trace_key>:emails` (the mailer). Every hop it sends is logged in the Redis
    stream `trace_key` as (t, from, to, label, correlation_id).
    """

    def __init__(self, url: str, name: str, in_queue: str, *, out_queue: str | None,
                 send_to: str, label: str, redis_url: str, trace_key: str,
                 work_ms: float = 20.0) -> None:  # fmt: skip
        super().__init__(url, in_queue, handle=self.pass_on, work_ms=0.0, name=name)
        self.out_queue, self.send_to, self.label = out_queue, send_to, label
        self.redis_url, self.trace_key, self.relay_work_ms = redis_url, trace_key, work_ms

    def pass_on(self, channel, properties, body: bytes) -> None:
        time.sleep(self.relay_work_ms / 1000)
        cid, sent_at = properties.correlation_id, time.time()
        r = redis.Redis.from_url(self.redis_url)
        try:
            if self.out_queue is None:
                r.rpush(f"{self.trace_key}:emails", body)
            else:
                props = pika.BasicProperties(correlation_id=cid, app_id=self.name)
                channel.basic_publish("", self.out_queue, body, props)
            log_hop(r, self.trace_key, sent_at, self.name, self.send_to, self.label, cid)
        finally:
            r.close()
