"""What lesson 04's checks run learners' code against: real queues, a crash, a stopwatch.

A `Rig` is a work queue with a dead-letter exchange and queue of its own, on the lab's
RabbitMQ, declared with fresh names and deleted afterwards. `WorkerCrashed` plays a
SIGKILL inside a check's thread: it is a BaseException, so `except Exception` in the
learner's code lets it through, and the check then drops the connection without acks.
`ThreadKilled` does the same inside a thread the learner started (a SystemExit, so
Python ends that thread without printing a traceback). `MeetingRedis` is a Redis client
that, after its first command, waits for the other racer's first command: two
consumers racing for one message then interleave the same way on every run.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pika
import redis

from labsupport import ensure_rabbitmq, fresh_name
from labsupport.messaging import connect_amqp, drain_queue


class WorkerCrashed(BaseException):  # noqa: N818 - it names an event, like KeyboardInterrupt
    """Raised inside a learner's consumer to kill it mid-message, like SIGKILL would."""


class ThreadKilled(SystemExit):
    """Raised inside a learner's consumer thread to end it mid-message, as a crash would."""


class MeetingRedis(redis.Redis):
    """A Redis client whose first command returns only once the other racer's has run too.

    Two of them, sharing one barrier, make check-then-set code interleave at its worst
    on every run; an atomic first command (SET NX, a script) wins cleanly. The wait is
    bounded, so code that never talks to Redis is not held up for long.
    """

    def __init__(self, url: str, meeting: threading.Barrier) -> None:
        pool = redis.ConnectionPool.from_url(url, decode_responses=True)
        super().__init__(connection_pool=pool)
        self.meeting, self.met = meeting, True
        self.ping()  # a warm connection: no set-up cost left to separate the racers
        self.met = False  # the meeting is for the learner's first command

    def execute_command(self, *args, **options):
        result = super().execute_command(*args, **options)
        if not self.met:
            self.met = True
            try:
                self.meeting.wait(1.0)
            except threading.BrokenBarrierError:
                pass
        return result


class HandlerFailed(Exception):
    """Raised by a check's handler when processing a message fails (a bug or a bad order)."""


@dataclass
class Rig:
    """A work queue, its dead-letter queue, and the message ids published to it."""

    url: str
    queue: str
    dead_letters: str
    exchange: str
    ids: list[str] = field(default_factory=list)

    def publish_after(self, handled: Callable[[], int], first: int, delay_s: float, count: int):
        """Return a callback that publishes `count` more orders delay_s after the first
        `first` were handled (call it after each message; `handled()` counts them).

        The consumer has then drained the queue: one that stops as soon as it is empty
        misses these on every run. The publisher connects beforehand, so a loaded
        machine's slow connection set-up does not make them later than delay_s.
        """
        go, done = threading.Event(), threading.Event()

        def publish() -> None:
            with connect_amqp(self.url) as connection:
                channel = connection.channel()
                channel.confirm_delivery()
                if go.wait(10):
                    time.sleep(delay_s)
                    self._publish_on(channel, count, "order")
            done.set()

        threading.Thread(target=publish, daemon=True).start()

        def after_each() -> None:
            if handled() >= first:
                go.set()

        after_each.done = done  # type: ignore[attr-defined]
        return after_each

    def publish(self, count: int, prefix: str = "order") -> list[str]:
        """Publish `count` persistent orders; return their ids, `<prefix>-<run>-<n>`.

        The body is the id itself, so a handler that only sees the body knows it too.
        """
        with connect_amqp(self.url) as connection:
            channel = connection.channel()
            channel.confirm_delivery()
            return self._publish_on(channel, count, prefix)

    def _publish_on(self, channel, count: int, prefix: str) -> list[str]:
        run = uuid.uuid4().hex[:8]
        new = [f"{prefix}-{run}-{n}" for n in range(count)]
        for message_id in new:
            props = pika.BasicProperties(message_id=message_id, delivery_mode=2)
            channel.basic_publish("", self.queue, message_id.encode(), props)
        self.ids += new
        return new

    def depth(self) -> int:
        """Return how many messages wait in the work queue (unacked ones excluded)."""
        with connect_amqp(self.url) as connection:
            return connection.channel().queue_declare(self.queue, passive=True).method.message_count

    def dead(self) -> list[str]:
        """Take every message from the dead-letter queue; return their message ids."""
        return [props.message_id for _m, props, _b in drain_queue(self.url, self.dead_letters)]


@contextmanager
def work_queue(dead_lettering: bool = True) -> Iterator[Rig]:
    """Declare a work queue (with a dead-letter exchange and queue) and delete it all afterwards."""
    url = ensure_rabbitmq().url
    names = fresh_name("check.work"), fresh_name("check.dead"), fresh_name("check.dlx")
    rig = Rig(url, *names)
    expires = {"x-expires": 120_000}  # a safety net if the kernel dies before the cleanup
    with connect_amqp(url) as connection:
        channel = connection.channel()
        channel.exchange_declare(rig.exchange, exchange_type="fanout")
        channel.queue_declare(rig.dead_letters, arguments=expires)
        channel.queue_bind(rig.dead_letters, rig.exchange)
        args = {**expires, "x-dead-letter-exchange": rig.exchange} if dead_lettering else expires
        channel.queue_declare(rig.queue, arguments=args)
    try:
        yield rig
    finally:
        with connect_amqp(url) as connection:
            channel = connection.channel()
            for queue in (rig.queue, rig.dead_letters):
                channel.queue_delete(queue)
            channel.exchange_delete(rig.exchange)


def run_consumer(
    consume: Callable, rig: Rig, handle: Callable, *args, **kwargs
) -> tuple[object, bool]:
    """Run the learner's consume(channel, queue, handle, *args, ...) on a fresh connection.

    Returns (what it returned, whether it crashed). After a crash the connection is
    closed without acks, as a killed process's socket would be: the broker requeues
    whatever the consumer held unacked, and only that.
    """
    connection = connect_amqp(rig.url)
    try:
        return consume(connection.channel(), rig.queue, handle, *args, **kwargs), False
    except WorkerCrashed:
        return None, True
    finally:
        if connection.is_open:
            connection.close()
