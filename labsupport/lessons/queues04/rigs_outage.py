"""A producer and a consumer that keep going while the broker stops and starts (lesson 04).

Both reconnect on any AMQP error, pausing `retry_s` between attempts. The producer
publishes persistent messages with publisher confirms and retries a message until the
broker confirms it, so nothing is lost, but a message whose confirm died with the
broker is sent twice. The consumer acks after recording, so an ack lost in the
shutdown brings a redelivery. Both kinds of duplicate are counted, not hidden.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pika
from pika.exceptions import AMQPError

from labsupport.messaging import StoppableThread, connect_amqp


@dataclass
class OutageLog:
    """Every event of the experiment: `(monotonic time, role, kind, detail)`."""

    events: list[tuple[float, str, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, role: str, kind: str, detail: str = "") -> None:
        with self._lock:
            self.events.append((time.monotonic(), role, kind, detail))

    def times(self, role: str, kind: str) -> list[float]:
        return [t for t, ro, k, _ in self.events if ro == role and k == kind]

    def details(self, role: str, kind: str) -> list[str]:
        return [d for _, ro, k, d in self.events if ro == role and k == kind]


class _Producer(StoppableThread):
    def __init__(self, url: str, queue: str, count: int, rate_per_s: float, log: OutageLog):
        super().__init__("outage-producer", max_s=60.0)
        self.url, self.queue, self.log = url, queue, log
        self.count, self.rate_per_s = count, rate_per_s
        self.confirmed = 0

    def loop(self) -> None:
        connection = channel = None
        start = time.monotonic()
        while self.confirmed < self.count and self.keep_going():
            # Orders arrive at a steady rate whatever the broker does; the ones that could
            # not be sent wait here (an outbox in memory) and go out when it is back.
            time.sleep(max(0.0, start + self.confirmed / self.rate_per_s - time.monotonic()))
            try:
                if channel is None:
                    connection = connect_amqp(self.url)
                    channel = connection.channel()
                    channel.confirm_delivery()
                    self.log.add("producer", "connected")
                message_id = f"{self.queue}/{self.confirmed}"
                props = pika.BasicProperties(
                    message_id=message_id, delivery_mode=pika.DeliveryMode.Persistent
                )
                # With confirms on, basic_publish returns only once the broker has the message.
                channel.basic_publish("", self.queue, message_id.encode(), props)
                self.log.add("producer", "confirmed", message_id)
                self.confirmed += 1
            except AMQPError as exc:
                self.log.add("producer", "failed", type(exc).__name__)
                channel = _close_quietly(connection)
                time.sleep(0.25)
        _close_quietly(connection)


class _Consumer(StoppableThread):
    def __init__(self, url: str, queue: str, log: OutageLog):
        super().__init__("outage-consumer", max_s=60.0)
        self.url, self.queue, self.log = url, queue, log
        self.received: list[str] = []

    def loop(self) -> None:
        while self.keep_going():
            connection = None
            try:
                connection = connect_amqp(self.url)
                channel = connection.channel()
                channel.basic_qos(prefetch_count=10)
                channel.basic_consume(self.queue, self.on_message)
                self.log.add("consumer", "connected")
                while self.keep_going():
                    connection.process_data_events(time_limit=0.05)
            except AMQPError as exc:
                self.log.add("consumer", "failed", type(exc).__name__)
                time.sleep(0.25)
            finally:
                _close_quietly(connection)

    def on_message(self, channel, method, properties, body: bytes) -> None:
        self.received.append(properties.message_id)
        self.log.add("consumer", "received", properties.message_id)
        channel.basic_ack(method.delivery_tag)


def _close_quietly(connection) -> None:
    try:
        if connection is not None and connection.is_open:
            connection.close()
    except AMQPError:
        pass  # the broker is already gone: nothing left to close politely
    return None


class OutageTraffic:
    """Run one reconnecting producer and one reconnecting consumer on a durable queue.

    traffic = OutageTraffic(url, queue, count=120, rate_per_s=20).start()
    traffic.mark("broker stopped"); ...; traffic.wait_done(); traffic.stop()
    traffic.counts()
    """

    def __init__(self, url: str, queue: str, count: int = 120, rate_per_s: float = 20.0):
        self.count = count
        self.log = OutageLog()
        self.producer = _Producer(url, queue, count, rate_per_s, self.log)
        self.consumer = _Consumer(url, queue, self.log)

    def start(self) -> OutageTraffic:
        self.log.add("lab", "start")
        self.consumer.start()
        self.producer.start()
        return self

    def mark(self, what: str) -> None:
        """Note what the experimenter did (broker stopped, started), for the timeline."""
        self.log.add("broker", what)

    def wait_done(self, timeout_s: float = 30.0) -> bool:
        """Wait until every message was confirmed and received once; return whether it was."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (
                self.producer.confirmed >= self.count
                and len(set(self.consumer.received)) >= self.count
            ):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self.producer.stop()
        self.consumer.stop()

    def counts(self) -> dict[str, int]:
        """Return what each side saw: confirmed, failed attempts, received, lost, duplicated."""
        received = Counter(self.consumer.received)
        expected = {f"{self.producer.queue}/{n}" for n in range(self.count)}
        return {
            "published (confirmed)": self.producer.confirmed,
            "publish attempts refused": len(self.log.times("producer", "failed")),
            "consumer reconnect attempts": len(self.log.times("consumer", "failed")),
            "received (distinct)": len(received),
            "lost": len(expected - set(received)),
            "duplicated": sum(n - 1 for n in received.values()),
        }

    def errors_seen(self) -> dict[str, Counter]:
        """Return which exceptions each side saw, by class name."""
        return {
            role: Counter(self.log.details(role, "failed")) for role in ("producer", "consumer")
        }
