"""The toolkit's RabbitMQ helpers against the lab's real broker."""

from __future__ import annotations

import threading
import time

import pytest

from labsupport import fresh_name
from labsupport.messaging import BackgroundConsumer, connect_amqp, drain_queue, queue_depth
from labsupport.waiting import wait_until

pytestmark = pytest.mark.broker
SENT = 40


@pytest.fixture
def full_queue(rabbit_broker):
    queue = fresh_name("test.stop")
    with connect_amqp(rabbit_broker.url) as connection:
        channel = connection.channel()
        channel.queue_declare(queue, arguments={"x-expires": 60_000})
        for n in range(SENT):
            channel.basic_publish("", queue, str(n).encode())
    yield rabbit_broker.url, queue
    with connect_amqp(rabbit_broker.url) as connection:
        connection.channel().queue_delete(queue)


def test_a_stopped_consumer_handles_nothing_more_and_the_broker_keeps_the_rest(full_queue):
    url, queue = full_queue
    handled, first = [], threading.Event()

    def slow(ch, method, properties, body):
        first.set()
        time.sleep(0.05)
        handled.append(int(body))
        ch.basic_ack(method.delivery_tag)

    consumer = BackgroundConsumer(url, queue, slow, prefetch=20).start()
    assert first.wait(5), "the consumer never got a message"
    consumer.stop()
    assert not consumer.is_alive(), "stop() returned with the consumer still running"
    after_stop = len(handled)
    time.sleep(0.3)

    # Before the fix it went on through its 20 prefetched messages (about a second).
    assert len(handled) == after_stop <= 2, handled
    wait_until(lambda: queue_depth(url, queue) == SENT - len(handled), 5, "the rest requeued")
    left = sorted(int(body) for _m, _p, body in drain_queue(url, queue))
    assert sorted(handled + left) == list(range(SENT)), "a message was lost or doubled"
