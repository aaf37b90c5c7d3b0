"""Talk to RabbitMQ from a notebook: connections that fail fast, consumers on their own thread.

pika's BlockingConnection is not thread-safe, and it only answers heartbeats while it
does I/O. So every background consumer here opens its own connection inside its own
thread, never shares it, and polls with `process_data_events(time_limit=...)`, which
keeps heartbeats flowing and sees a stop request within ~50 ms. Every loop has a deadline.

    def callback(ch, method, properties, body):       # pika's own signature
        print(body)
        ch.basic_ack(method.delivery_tag)

    consumer = BackgroundConsumer(url, "orders.placed", callback, prefetch=10).start()
    ...
    consumer.stop()

First used in lesson 04; lessons 06 and 07 consume events the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic

from .waiting import wait_until

__all__ = [
    "BackgroundConsumer",
    "StoppableThread",
    "connect_amqp",
    "drain_queue",
    "queue_depth",
    "wait_for_consumers",
]


def connect_amqp(url: str) -> pika.BlockingConnection:
    """Open a blocking AMQP connection that fails fast (one attempt, 2 s socket timeout)."""
    params = pika.URLParameters(url)
    params.connection_attempts, params.socket_timeout = 1, 2.0
    params.blocked_connection_timeout = 5.0
    return pika.BlockingConnection(params)


def queue_depth(url: str, queue: str) -> int:
    """Return how many messages wait (ready, not yet delivered) in queue."""
    with connect_amqp(url) as connection:
        return connection.channel().queue_declare(queue, passive=True).method.message_count


def drain_queue(
    channel_or_url: BlockingChannel | str, queue: str, *, timeout_s: float = 5.0
) -> list[tuple[Basic.GetOk, pika.BasicProperties, bytes]]:
    """Take every message waiting in queue (`basic_get`, auto-ack); return them in order.

    Pass an open channel, or a URL to drain on a connection of its own. Used by checks
    that count what reached a queue (lessons 04 and 07). A queue still not empty after
    timeout_s (its publisher never stops) raises TimeoutError rather than looping forever.
    """
    if isinstance(channel_or_url, str):
        with connect_amqp(channel_or_url) as connection:
            return drain_queue(connection.channel(), queue, timeout_s=timeout_s)
    taken, deadline = [], time.monotonic() + timeout_s
    while (delivery := channel_or_url.basic_get(queue, auto_ack=True))[0] is not None:
        taken.append(delivery)
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{queue!r} was not empty after {timeout_s:g} s ({len(taken)} taken)"
            )
    return taken


def wait_for_consumers(url: str, queue: str, count: int, timeout_s: float = 5.0) -> None:
    """Wait until at least `count` consumers are registered on queue (so dispatch is fair)."""
    with connect_amqp(url) as connection:
        channel = connection.channel()

        def registered() -> bool:
            return channel.queue_declare(queue, passive=True).method.consumer_count >= count

        wait_until(registered, timeout_s, f"{count} consumers on {queue}")


class StoppableThread(threading.Thread):
    """A daemon thread with a stop flag, a deadline, and the error that ended it (if any).

    Subclasses write `loop()` and call `keep_going()` in it; `ready` is set once the
    thread is listening (or has failed), so a cell can wait for it before publishing.
    """

    def __init__(self, name: str, max_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self.max_s = max_s
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._deadline = time.monotonic() + max_s

    def keep_going(self) -> bool:
        """Tell the loop whether to go on: no stop asked and the deadline not passed."""
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
        if self.is_alive():
            self.join(timeout_s)


class BackgroundConsumer(StoppableThread):
    """Consume a queue on a thread of its own, calling pika's `callback(ch, method, properties, body)`.

    The callback acks (or not) itself, exactly as in a pika script. `prefetch` is the
    channel's `basic_qos(prefetch_count=...)` (0: no limit); `auto_ack=True` hands
    messages over already acked (at-most-once). `start()` returns once the consumer is
    registered, so nothing published afterwards can miss it. After `stop()` is asked, no
    further message reaches the callback (unless auto-acked): the broker keeps the rest.
    """

    def __init__(self, url: str, queue: str, callback: Callable, *, prefetch: int = 1,
                 auto_ack: bool = False, name: str = "consumer", max_s: float = 60.0) -> None:  # fmt: skip
        super().__init__(name, max_s)
        self.url, self.queue, self.callback = url, queue, callback
        self.prefetch, self.auto_ack = prefetch, auto_ack

    def start(self, timeout_s: float = 10.0) -> BackgroundConsumer:  # type: ignore[override]
        """Start consuming; raise what went wrong if the consumer is not listening in timeout_s."""
        super().start()
        if not self.ready.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"consumer {self.name!r} did not start within {timeout_s} s")
        if self.error is not None:
            raise RuntimeError(f"consumer {self.name!r} could not start: {self.error}")
        return self

    def loop(self) -> None:
        with connect_amqp(self.url) as connection:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self.prefetch)
            channel.basic_consume(self.queue, self._deliver, auto_ack=self.auto_ack)
            self.ready.set()
            while self.keep_going():
                connection.process_data_events(time_limit=0.05)

    def _deliver(self, channel, method, properties, body) -> None:
        # One process_data_events call hands over everything already buffered, up to the
        # prefetch. Once stop() is asked, leave those unacked: the broker delivers them
        # again when this connection closes. With auto_ack they are already acked, so
        # they are still handled rather than dropped.
        if self.auto_ack or not self._halt.is_set():
            self.callback(channel, method, properties, body)

    def __repr__(self) -> str:
        state = "running" if self.is_alive() else "stopped"
        return f"<BackgroundConsumer {self.name!r} on {self.queue!r}, {state}>"
