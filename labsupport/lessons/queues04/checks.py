"""Check lesson 04's first two exercise tasks: an idempotent consumer, a reliable worker.

The idempotent consumer is judged on the lab's Redis: redeliveries, twins with the same
content, two consumers racing, an effect that fails. The worker is judged on the lab's
RabbitMQ: it must ack only what it handled, survive a crash in the middle of a message,
retry a passing failure and dead-letter a poison message after exactly N tries.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import redis

from labsupport import ensure_redis
from labsupport.checks import task

from ._fixtures import HandlerFailed, WorkerCrashed, run_consumer, work_queue


def _fresh_id() -> str:
    return f"order-{uuid.uuid4().hex[:12]}"


def _redis_mentions(r: redis.Redis, text: str) -> bool:
    """Tell whether any key's name, or any set, hash, sorted set or list, holds `text`."""
    if next(r.scan_iter(match=f"*{text}*", count=1000), None) is not None:
        return True
    probes = {
        "set": lambda key: r.sismember(key, text),
        "hash": lambda key: r.hexists(key, text),
        "zset": lambda key: r.zscore(key, text) is not None,
        "list": lambda key: r.lpos(key, text) is not None,
    }
    for kind, probe in probes.items():
        for key in r.scan_iter(count=1000, _type=kind):
            if probe(key):
                return True
    return False


def _race(handle_once, r, message_id: str, effect) -> list[BaseException]:
    """Call handle_once for one message from two threads at the same moment."""
    start, errors = threading.Barrier(2), []

    def consumer() -> None:
        try:
            start.wait(2)
            handle_once(r, message_id, b"order: 1 teapot", effect)
        except BaseException as exc:  # noqa: BLE001 - reported by the case
            errors.append(exc)

    threads = [threading.Thread(target=consumer, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    return errors


@task("handle_once", lesson="04", title="An idempotent consumer", timeout_s=10)
def check_handle_once(case, handle_once):
    """Judge handle_once(r, message_id, body, effect) -> bool on the lab's Redis."""
    r = redis.Redis.from_url(ensure_redis().url, decode_responses=True)
    done: list[bytes] = []
    with case(
        "runs the effect for a message it has not seen", hint="A new message id is work to do."
    ):
        result = handle_once(r, _fresh_id(), b"order: 1 mug", done.append)
        assert len(done) == 1, f"the effect ran {len(done)} times for one new message"
        assert result is True, f"returned {result!r} after running the effect"

    with case(
        "skips a message delivered a second time",
        hint="After a lost ack the broker delivers again: same message id, same body.",
    ):
        done.clear()
        message_id = _fresh_id()
        handle_once(r, message_id, b"order: 2 mugs", done.append)
        again = handle_once(r, message_id, b"order: 2 mugs", done.append)
        assert len(done) == 1, f"the effect ran {len(done)} times for one message delivered twice"
        assert again is False, f"returned {again!r} for a message it skipped"

    with case(
        "treats two orders with the same content as two messages",
        hint="Two customers may order the same mug. What tells two messages apart?",
    ):
        done.clear()
        handle_once(r, _fresh_id(), b"order: 1 mug", done.append)
        handle_once(r, _fresh_id(), b"order: 1 mug", done.append)
        assert len(done) == 2, f"the effect ran {len(done)} times for two different messages"

    with case(
        "remembers message ids in Redis, where a restarted consumer finds them",
        hint="Memory inside the process dies with it, and redeliveries often go to a new one.",
    ):
        message_id = _fresh_id()
        handle_once(r, message_id, b"order: 3 mugs", lambda body: None)
        assert _redis_mentions(r, message_id), (
            "after handling a message, Redis holds no trace of its id"
        )

    with case(
        "runs the effect once when two consumers get the same message at once",
        hint="Looking for the id and then writing it are two steps; another consumer fits between.",
    ):
        done.clear()
        slow_effect = lambda body: (threading.Event().wait(0.2), done.append(body))  # noqa: E731
        errors = _race(handle_once, r, _fresh_id(), slow_effect)
        if errors:
            raise errors[0]
        assert len(done) == 1, (
            f"the effect ran {len(done)} times for one message handled twice at once"
        )

    with case(
        "lets a redelivery try again after the effect failed",
        hint="If the effect raised, the message was not handled: its next delivery is real work.",
    ):
        done.clear()
        message_id = _fresh_id()

        def failing(body: bytes) -> None:
            raise HandlerFailed("the mail server timed out")

        try:
            handle_once(r, message_id, b"order: 1 teapot", failing)
        except HandlerFailed:
            pass
        else:
            raise AssertionError("the effect's error did not reach the caller, which would ack")
        handle_once(r, message_id, b"order: 1 teapot", done.append)
        assert len(done) == 1, (
            "the redelivery after a failed effect was skipped: the effect never happened"
        )


class _Handler:
    """The check's message handler: counts calls, succeeds, fails or crashes as told."""

    def __init__(self, *, crash_on: str = "", fail_once=(), poison=(), max_tries: int = 99):
        self.crash_on, self.fail_once, self.poison = crash_on, set(fail_once), set(poison)
        self.max_tries, self.runaway = max_tries, False
        self.calls: Counter[str] = Counter()
        self.done: Counter[str] = Counter()

    def __call__(self, body: bytes) -> None:
        message_id = body.decode()
        self.calls[message_id] += 1
        if message_id == self.crash_on:
            self.crash_on = ""
            raise WorkerCrashed("killed in the middle of this message")
        if message_id in self.poison:
            if self.calls[message_id] > self.max_tries + 3:
                self.runaway = True
                raise WorkerCrashed("stopped by the check: this message was retried without end")
            raise HandlerFailed(f"{message_id} cannot be charged: the card number is malformed")
        if message_id in self.fail_once and self.calls[message_id] == 1:
            raise HandlerFailed("the payment service timed out")
        self.done[message_id] += 1


def _never_done(rig, handler: _Handler) -> list[str]:
    return [i for i in rig.ids if i not in handler.poison and handler.done[i] == 0]


@task(
    "reliable_worker",
    lesson="04",
    title="An at-least-once worker with a dead-letter queue",
    timeout_s=12,
)
def check_reliable_worker(case, consume_reliably):
    """Judge consume_reliably(channel, queue, handle, max_attempts, idle_s) on real queues."""
    with case(
        "acks each message once it is handled",
        hint="A message stays the broker's until its ack arrives.",
    ):
        with work_queue() as rig:
            rig.publish(5)
            handler = _Handler()
            acked, _ = run_consumer(consume_reliably, rig, handler, max_attempts=3, idle_s=0.3)
            assert not _never_done(rig, handler), (
                f"{len(_never_done(rig, handler))} of 5 messages were never handled"
            )
            back = rig.depth()
            assert back == 0, (
                f"{back} of 5 handled messages went back to the queue when the connection closed"
            )
            assert acked == 5, f"returned {acked!r} after handling 5 messages"

    with case(
        "loses no message when the worker dies mid-message",
        hint="Ask when each message leaves the broker for good, and whether its work was done by then.",
    ):
        with work_queue() as rig:
            ids = rig.publish(6)
            handler = _Handler(crash_on=ids[2])
            run_consumer(consume_reliably, rig, handler, max_attempts=3, idle_s=0.3)
            run_consumer(consume_reliably, rig, handler, max_attempts=3, idle_s=0.3)  # restarted
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
            run_consumer(consume_reliably, rig, handler, max_attempts=3, idle_s=0.3)
            dead = rig.dead()
            assert not dead, (
                f"{len(dead)} message(s) that failed only once went to the dead-letter queue"
            )
            assert handler.done[ids[1]] == 1, (
                "the message that failed once was never handled afterwards"
            )

    with case(
        "dead-letters a poison message after exactly max_attempts tries",
        hint="Count the tries per message id; the last try ends with a reject that does not requeue.",
    ):
        with work_queue() as rig:
            ids = rig.publish(4)
            handler = _Handler(poison=[ids[0]], max_tries=2)
            run_consumer(consume_reliably, rig, handler, max_attempts=2, idle_s=0.3)
            tries = handler.calls[ids[0]]
            assert not handler.runaway, (
                f"kept retrying the poison message ({tries} tries, max_attempts=2)"
            )
            assert tries == 2, f"tried the poison message {tries} times with max_attempts=2"
            dead = rig.dead()
            assert dead == [ids[0]], (
                f"the dead-letter queue holds {len(dead)} message(s), not the poison one alone"
            )
            assert not _never_done(rig, handler), "some good messages were never handled"
