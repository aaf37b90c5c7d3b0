"""Consumers, samplers and small services for lesson 04, each a thread that owns its connection.

pika's BlockingConnection is not thread-safe: every thread here opens its own connection
inside `run()`, never shares it, and polls with `process_data_events(time_limit=...)` so
a stop request is seen within a few tens of milliseconds. Every loop has a deadline.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pika
import redis

from labsupport import _procs


def connect(url: str) -> pika.BlockingConnection:
    """Open a blocking AMQP connection that fails fast (one attempt, 2 s socket timeout)."""
    params = pika.URLParameters(url)
    params.connection_attempts, params.socket_timeout = 1, 2.0
    params.blocked_connection_timeout = 5.0
    return pika.BlockingConnection(params)


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str = "") -> None:
    """Poll predicate every 20 ms; raise TimeoutError saying what did not happen in time."""
    _procs.wait_until(predicate, timeout_s=timeout_s, interval_s=0.02, what=what or "the condition")


def queue_depth(url: str, queue: str) -> int:
    """Return how many messages wait (ready, not yet delivered) in queue."""
    with connect(url) as connection:
        return connection.channel().queue_declare(queue, passive=True).method.message_count


def wait_for_consumers(url: str, queue: str, count: int, timeout_s: float = 5.0) -> None:
    """Wait until at least `count` consumers are registered on queue (so dispatch is fair)."""
    with connect(url) as connection:
        channel = connection.channel()

        def registered() -> bool:
            return channel.queue_declare(queue, passive=True).method.consumer_count >= count

        wait_until(registered, timeout_s, f"{count} consumers on {queue}")


def publish_burst(url: str, queue: str, count: int) -> float:
    """Publish `count` orders as fast as one connection can; return how long it took (s)."""
    start = time.monotonic()
    with connect(url) as connection:
        channel = connection.channel()
        for n in range(count):
            channel.basic_publish("", queue, str(n).encode())
    return time.monotonic() - start


class _Looping(threading.Thread):
    """A daemon thread with a stop flag, a deadline, and the error that ended it (if any)."""

    def __init__(self, name: str, max_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self.max_s = max_s
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def keep_going(self) -> bool:
        return not self._halt.is_set() and time.monotonic() < self._deadline

    def run(self) -> None:
        self._deadline = time.monotonic() + self.max_s
        try:
            self.loop()
        except Exception as exc:  # kept for the notebook to show, not swallowed silently
            self.error = exc
        finally:
            self.ready.set()

    def loop(self) -> None:
        raise NotImplementedError

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to finish and wait for it (at most timeout_s)."""
        self._halt.set()
        self.join(timeout_s)


class ConsumerThread(_Looping):
    """Consume a queue with manual acks: do the work, then ack, then record the message.

    `work_ms` is a number or a function of the body (uneven work). `handle(channel,
    properties, body)`, when given, runs before the ack (to publish onwards, say).
    `done` holds `(monotonic time, body)` per acked message, in the order they finished.
    """

    def __init__(self, url: str, queue: str, *, work_ms: float | Callable[[bytes], float] = 0.0,
                 handle: Callable | None = None, prefetch: int = 1, name: str = "consumer",
                 max_s: float = 60.0) -> None:  # fmt: skip
        super().__init__(name, max_s)
        self.url, self.queue, self.work_ms, self.handle = url, queue, work_ms, handle
        self.prefetch = prefetch
        self.done: list[tuple[float, bytes]] = []

    def loop(self) -> None:
        with connect(self.url) as connection:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self.prefetch)  # 0 means no limit
            channel.basic_consume(self.queue, self.on_message)
            self.ready.set()
            while self.keep_going():
                connection.process_data_events(time_limit=0.05)

    def on_message(self, channel, method, properties, body: bytes) -> None:
        if self.handle is not None:
            self.handle(channel, properties, body)
        work_ms = self.work_ms(body) if callable(self.work_ms) else self.work_ms
        if work_ms:
            time.sleep(work_ms / 1000)
        channel.basic_ack(method.delivery_tag)  # only after the work is done
        self.done.append((time.monotonic(), body))


class DepthSampler(_Looping):
    """Sample a queue's depth every `interval_s`; `samples` holds `(monotonic time, depth)`."""

    def __init__(self, url: str, queue: str, interval_s: float = 0.05, max_s: float = 60.0):
        super().__init__("depth-sampler", max_s)
        self.url, self.queue, self.interval_s = url, queue, interval_s
        self.samples: list[tuple[float, int]] = []

    def loop(self) -> None:
        with connect(self.url) as connection:
            channel = connection.channel()
            self.ready.set()
            while self.keep_going():
                depth = channel.queue_declare(self.queue, passive=True).method.message_count
                self.samples.append((time.monotonic(), depth))
                connection.process_data_events(time_limit=self.interval_s)


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


def log_hop(
    r: redis.Redis, trace_key: str, t: float, sender: str, to: str, label: str, cid: str
) -> None:
    """Append one hop, sent at wall-clock time t (processes agree on it), to the trace stream."""
    hop = {"t": t, "from": sender, "to": to, "label": label, "cid": cid}
    r.xadd(trace_key, hop, maxlen=10_000)
