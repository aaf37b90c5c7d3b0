"""What lesson 04's checks run learners' code against: real queues, a crash, a stopwatch.

A `Rig` is a work queue with a dead-letter exchange and queue of its own, on the lab's
RabbitMQ, declared with fresh names and deleted afterwards. `WorkerCrashed` plays a
SIGKILL inside a check's thread: it is a BaseException, so `except Exception` in the
learner's code lets it through, and the check then drops the connection without acks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pika

from labsupport import ensure_rabbitmq, fresh_name
from labsupport.messaging import connect_amqp


class WorkerCrashed(BaseException):  # noqa: N818 - it names an event, like KeyboardInterrupt
    """Raised inside a learner's consumer to kill it mid-message, like SIGKILL would."""


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

    def publish(self, count: int, prefix: str = "order") -> list[str]:
        """Publish `count` persistent orders; return their ids, `<prefix>-<run>-<n>`.

        The body is the id itself, so a handler that only sees the body knows it too.
        """
        run = uuid.uuid4().hex[:8]
        new = [f"{prefix}-{run}-{n}" for n in range(count)]
        with connect_amqp(self.url) as connection:
            channel = connection.channel()
            channel.confirm_delivery()
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
        found = []
        with connect_amqp(self.url) as connection:
            channel = connection.channel()
            while True:
                method, props, _body = channel.basic_get(self.dead_letters, auto_ack=True)
                if method is None:
                    return found
                found.append(props.message_id)


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


def run_consumer(consume: Callable, rig: Rig, handle: Callable, **kwargs) -> tuple[object, bool]:
    """Run the learner's consume(channel, queue, handle, ...) on a fresh connection.

    Returns (what it returned, whether it crashed). After a crash the connection is
    closed without acks, as a killed process's socket would be: the broker requeues
    whatever the consumer held unacked, and only that.
    """
    connection = connect_amqp(rig.url)
    try:
        return consume(connection.channel(), rig.queue, handle, **kwargs), False
    except WorkerCrashed:
        return None, True
    finally:
        if connection.is_open:
            connection.close()
