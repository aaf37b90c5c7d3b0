"""Check lesson 04's second exercise task: an at-least-once worker with a dead-letter queue.

The worker runs on the lab's RabbitMQ, on classic queues with a dead-letter exchange,
and keeps its attempt counts in the lab's Redis. The check kills it in the middle of a
message (once, or every time a message comes), fails a message once, feeds it a poison
order, publishes while it already runs, and looks at how many messages it holds at once.
"""

from __future__ import annotations

import time
from collections import Counter

import redis

from labsupport import ensure_redis
from labsupport.checks import task

from ._fixtures import HandlerFailed, Rig, WorkerCrashed, run_consumer, work_queue

IDLE_S = 0.3


class _Handler:
    """The check's message handler: counts calls, succeeds, fails or crashes as told."""

    def __init__(self, *, crash_on=(), crash_always=(), fail_once=(), poison=(), max_tries=99,
                 on_first=None) -> None:  # fmt: skip
        self.crash_on, self.crash_always = set(crash_on), set(crash_always)
        self.fail_once, self.poison = set(fail_once), set(poison)
        self.max_tries, self.runaway, self.on_first = max_tries, False, on_first
        self.after = None  # called after each message handled
        self.calls: Counter[str] = Counter()
        self.done: Counter[str] = Counter()

    def __call__(self, body: bytes) -> None:
        message_id = body.decode()
        self.calls[message_id] += 1
        if self.on_first is not None:
            first, self.on_first = self.on_first, None
            first()
        if self.calls[message_id] > self.max_tries + 3:
            self.runaway = True
            raise WorkerCrashed("stopped by the check: this message was retried without end")
        if message_id in self.crash_on:
            self.crash_on.discard(message_id)
            raise WorkerCrashed("killed in the middle of this message")
        if message_id in self.crash_always:
            raise WorkerCrashed("killed again by this message")
        if message_id in self.poison:
            raise HandlerFailed(f"{message_id} cannot be charged: the card number is malformed")
        if message_id in self.fail_once and self.calls[message_id] == 1:
            raise HandlerFailed("the payment service timed out")
        self.done[message_id] += 1
        if self.after is not None:
            self.after()


def _never_done(rig: Rig, handler: _Handler) -> list[str]:
    bad = handler.poison | handler.crash_always
    return [i for i in rig.ids if i not in bad and handler.done[i] == 0]


@task(
    "reliable_worker",
    lesson="04",
    title="An at-least-once worker with a dead-letter queue",
    timeout_s=12,
)
def check_reliable_worker(case, consume_reliably):
    """Judge consume_reliably(channel, queue, handle, r, max_attempts, idle_s) on real queues."""
    r = redis.Redis.from_url(ensure_redis().url, decode_responses=True)

    def run(rig: Rig, handler: _Handler, max_attempts: int = 3) -> tuple[object, bool]:
        return run_consumer(
            consume_reliably, rig, handler, r, max_attempts=max_attempts, idle_s=IDLE_S
        )

    with case(
        "acks each message once it is handled",
        hint="A message stays the broker's until its ack arrives.",
    ):
        with work_queue() as rig:
            rig.publish(5)
            handler = _Handler()
            acked, _ = run(rig, handler)
            never = _never_done(rig, handler)
            assert not never, f"{len(never)} of 5 messages were never handled"
            back = rig.depth()
            assert back == 0, (
                f"{back} of 5 handled messages went back to the queue when the connection closed"
            )
            assert acked == 5, f"returned {acked!r} after handling 5 messages"

    with case(
        "takes one message at a time",
        hint="While one message is being handled, count the messages still waiting in the queue.",
    ):
        with work_queue() as rig:
            rig.publish(5)
            waiting: list[int] = []
            handler = _Handler(on_first=lambda: waiting.append(_settled_depth(rig)))
            run(rig, handler)
            assert waiting, "handle was never called"
            held = 5 - waiting[0]
            assert held == 1, f"held {held} of 5 messages at once while handling the first"

    with case(
        "handles messages published after it started",
        hint="A worker waits idle_s for new messages; an empty queue is not the end of the work.",
    ):
        with work_queue() as rig:
            rig.publish(3)
            handler = _Handler()
            handler.after = rig.publish_after(lambda: sum(handler.done.values()), 3, 0.2, 3)
            run_consumer(consume_reliably, rig, handler, r, max_attempts=3, idle_s=0.6)
            handler.after.done.wait(3)
            never = _never_done(rig, handler)
            assert not never, (
                f"{len(never)} of 6 messages were never handled: they came 0.2 s after the "
                "first ones were done, with idle_s=0.6"
            )

    with case(
        "loses no message when the worker dies mid-message",
        hint="Ask when each message leaves the broker for good, and whether its work was done by then.",
    ):
        with work_queue() as rig:
            ids = rig.publish(6)
            handler = _Handler(crash_on=[ids[2]])
            run(rig, handler)
            run(rig, handler)  # restarted
            lost = _never_done(rig, handler)
            assert not lost, (
                f"{len(lost)} of 6 messages were never handled after the worker died and restarted"
            )

    with case(
        "tries again a message whose handling failed once",
        hint="A timeout now may be a success a moment later.",
    ):
        with work_queue() as rig:
            ids = rig.publish(4)
            handler = _Handler(fail_once=[ids[1]])
            acked, _ = run(rig, handler)
            dead = rig.dead()
            assert not dead, (
                f"{len(dead)} message(s) that failed only once went to the dead-letter queue"
            )
            assert handler.done[ids[1]] == 1, (
                "the message that failed once was never handled afterwards"
            )
            assert acked == 4, f"returned {acked!r} after 5 deliveries of which 4 were handled"

    with case(
        "dead-letters a poison message after exactly max_attempts tries",
        hint="Count the tries of the poison message, then look in the dead-letter queue.",
    ):
        with work_queue() as rig:
            ids = rig.publish(4)
            handler = _Handler(poison=[ids[0]], max_tries=3)
            run(rig, handler, max_attempts=3)
            tries = handler.calls[ids[0]]
            assert not handler.runaway, (
                f"kept retrying the poison message ({tries} tries, max_attempts=3)"
            )
            assert tries == 3, f"tried the poison message {tries} times with max_attempts=3"
            dead = rig.dead()
            assert dead == [ids[0]], (
                f"the dead-letter queue holds {len(dead)} message(s), not the poison one alone"
            )
            assert not _never_done(rig, handler), "some good messages were never handled"

    with case(
        "dead-letters a message that kills the worker every time, after max_attempts tries",
        hint="Each crash restarts the worker with empty memory: where could the count of "
        "tries live so that the next worker sees it?",
    ):
        with work_queue() as rig:
            ids = rig.publish(3)
            handler = _Handler(crash_always=[ids[1]], max_tries=2)
            for _restart in range(5):
                _, crashed = run(rig, handler, max_attempts=2)
                if not crashed:
                    break
            tries = handler.calls[ids[1]]
            assert tries == 2, (
                f"the message that kills the worker was tried {tries} times with max_attempts=2"
                f"{' and it was still crashing it after 5 restarts' if crashed else ''}"
            )
            dead = rig.dead()
            assert dead == [ids[1]], (
                f"the dead-letter queue holds {len(dead)} message(s), not the killer alone"
            )
            assert not _never_done(rig, handler), "some good messages were never handled"


def _settled_depth(rig: Rig) -> int:
    """Return the work queue's depth once the broker had time to push what it would."""
    time.sleep(0.15)  # the broker pushes prefetched messages within a few ms
    return rig.depth()
