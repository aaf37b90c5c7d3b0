"""Check lesson 04's first exercise task: an idempotent consumer, on the lab's Redis.

Every case is something a broker really does to a consumer: deliver a message again
(soon, or long after), deliver two orders with the same content, hand one message to two
consumers at the same moment (their Redis clients meet after their first command, so the
race interleaves the same way on every run), deliver again while the first consumer is
still busy, or after it died in the middle of the effect, or after the effect failed.
"""

from __future__ import annotations

import threading
import time
import uuid

import redis

from labsupport import ensure_redis
from labsupport.checks import task

from ._fixtures import HandlerFailed, MeetingRedis

DAY_S = 86_400
LEASE_S = 0.3  # the lease the crash cases ask for: short, so a case takes well under a second


def _fresh_id() -> str:
    return f"order-{uuid.uuid4().hex[:12]}"


def _body(message_id: str) -> bytes:
    """Return an order's body; each order of a case has its own (a customer, a time)."""
    return f"order {message_id}: 1 teapot".encode()


def _keys_mentioning(r: redis.Redis, text: str) -> list[str]:
    """Return the keys whose name holds `text`, or whose set, hash, zset or list holds it."""
    found = list(r.scan_iter(match=f"*{text}*", count=1000))
    probes = {
        "set": lambda key: r.sismember(key, text),
        "hash": lambda key: r.hexists(key, text),
        "zset": lambda key: r.zscore(key, text) is not None,
        "list": lambda key: r.lpos(key, text) is not None,
    }
    for kind, probe in probes.items():
        found += [key for key in r.scan_iter(count=1000, _type=kind) if probe(key)]
    return found


class _Effect:
    """The side effect handed to handle_once: counts runs; may block or fail as told."""

    def __init__(self, *, hold_s: float = 0.0, fail: bool = False) -> None:
        self.runs = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.hold_s, self.fail = hold_s, fail

    def __call__(self, body: bytes) -> None:
        self.runs += 1
        self.started.set()
        if self.hold_s:
            self.release.wait(self.hold_s)
        if self.fail:
            raise HandlerFailed("the mail server timed out")


class _Consumer(threading.Thread):
    """Call handle_once in a thread of its own; keep what it returned or raised."""

    def __init__(self, handle_once, r, message_id: str, effect, **kwargs) -> None:
        super().__init__(daemon=True)
        self.call = (handle_once, r, message_id, _body(message_id), effect, kwargs)
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        handle_once, r, message_id, body, effect, kwargs = self.call
        try:
            self.result = handle_once(r, message_id, body, effect, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - judged by the case
            self.error = exc

    def blank(self) -> bool:
        """Tell whether the learner's code was still the untouched exercise."""
        return isinstance(self.error, NotImplementedError)

    def outcome(self) -> str:
        if self.is_alive():
            return "was still waiting"
        if self.error is not None:
            return f"raised {type(self.error).__name__}"
        return f"returned {self.result!r}"


@task("handle_once", lesson="04", title="An idempotent consumer", timeout_s=10)
def check_handle_once(case, handle_once):
    """Judge handle_once(r, message_id, body, effect, *, lease_s) -> bool on the lab's Redis."""
    url = ensure_redis().url
    r = redis.Redis.from_url(url, decode_responses=True)

    with case(
        "runs the effect for a message it has not seen", hint="A new message id is work to do."
    ):
        effect = _Effect()
        message_id = _fresh_id()
        result = handle_once(r, message_id, _body(message_id), effect)
        assert effect.runs == 1, f"the effect ran {effect.runs} times for one new message"
        assert result is True, f"returned {result!r} after running the effect"

    with case(
        "skips a message delivered a second time",
        hint="After a lost ack the broker delivers again: same message id, same body.",
    ):
        effect, message_id = _Effect(), _fresh_id()
        handle_once(r, message_id, _body(message_id), effect)
        again = handle_once(r, message_id, _body(message_id), effect)
        assert effect.runs == 1, (
            f"the effect ran {effect.runs} times for one message delivered twice"
        )
        assert again is False, f"returned {again!r} for a message it skipped"

    with case(
        "treats two orders with the same content as two messages",
        hint="Two customers may order the same mug. What tells two messages apart?",
    ):
        effect = _Effect()
        twin = f"order at {_fresh_id()}: 1 mug".encode()  # new on every run of the check
        handle_once(r, _fresh_id(), twin, effect)
        handle_once(r, _fresh_id(), twin, effect)
        assert effect.runs == 2, f"the effect ran {effect.runs} times for two different messages"

    with case(
        "remembers message ids in Redis, where a restarted consumer finds them",
        hint="Memory inside the process dies with it, and redeliveries often go to a new one.",
    ):
        message_id = _fresh_id()
        handle_once(r, message_id, _body(message_id), _Effect())
        assert _keys_mentioning(r, message_id), (
            "after handling a message, Redis holds no trace of its id"
        )

    with case(
        "keeps a handled id for about a day, not for ever",
        hint="Look at how long Redis will keep what you wrote for a handled message (TTL).",
    ):
        message_id = _fresh_id()
        handle_once(r, message_id, _body(message_id), _Effect())
        ttls = [r.ttl(key) for key in _keys_mentioning(r, message_id)]
        assert ttls, "after handling a message, Redis holds no trace of its id"
        assert -1 not in ttls, "what Redis holds about a handled message never expires"
        longest = max(ttls)
        assert DAY_S / 2 <= longest <= 2 * DAY_S, (
            f"what Redis holds about a handled message expires after {longest} s"
        )

    with case(
        "still skips a redelivery that comes after lease_s has passed",
        hint="A redelivery can come long after the message was handled: what is left in "
        "Redis by then?",
    ):
        effect, message_id = _Effect(), _fresh_id()
        handle_once(r, message_id, _body(message_id), effect, lease_s=LEASE_S)
        time.sleep(LEASE_S + 0.15)
        again = handle_once(r, message_id, _body(message_id), effect, lease_s=LEASE_S)
        assert effect.runs == 1, (
            f"the effect ran again for a message redelivered {LEASE_S + 0.15:.2f} s after "
            f"it was handled (lease_s={LEASE_S})"
        )
        assert again is False, f"returned {again!r} for a message it skipped"

    with case(
        "runs the effect once when two consumers get the same message at once",
        hint="Two consumers both ask Redis about the id before either writes anything.",
    ):
        meeting, message_id = threading.Barrier(2), _fresh_id()
        effect = _Effect(hold_s=0.2)
        racers = [_Consumer(handle_once, MeetingRedis(url, meeting), message_id, effect)
                  for _ in range(2)]  # fmt: skip
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(3)
        _raise_if_blank(*racers)
        assert effect.runs == 1, (
            f"the effect ran {effect.runs} times for one message handled twice at once "
            f"(the consumers {racers[0].outcome()} and {racers[1].outcome()})"
        )

    with case(
        "does not report a message handled while another consumer is still on it",
        hint="If the first consumer dies now, who will ever handle this message? "
        "Whatever the second one reports decides whether the broker forgets it.",
    ):
        message_id = _fresh_id()
        first_effect, second_effect = _Effect(hold_s=3.0), _Effect()
        first = _Consumer(handle_once, r, message_id, first_effect)
        first.start()
        first_effect.started.wait(2)
        second = _Consumer(handle_once, r, message_id, second_effect)
        second.start()
        second.join(1.0)
        verdict = second.outcome()
        first_effect.release.set()
        first.join(3)
        second.join(3)
        _raise_if_blank(first, second)
        assert second_effect.runs == 0, "the second consumer ran the effect too"
        assert verdict != "returned False", (
            "the second consumer returned False (handled, ack it) while the first one was "
            "still in the middle of the effect"
        )

    with case(
        "lets a redelivery run the effect after a consumer died in the middle of it",
        hint="A consumer killed in the middle of the effect never cleans up. What does the "
        "next delivery of its message find in Redis, and for how long?",
    ):
        message_id = _fresh_id()
        dying_effect, effect = _Effect(hold_s=5.0), _Effect()
        dying = _Consumer(handle_once, r, message_id, dying_effect, lease_s=LEASE_S)
        dying.start()  # it never comes back: its effect hangs past the end of this check
        dying_effect.started.wait(2)
        time.sleep(LEASE_S + 0.15)
        again = _Consumer(handle_once, r, message_id, effect, lease_s=LEASE_S)
        again.start()
        again.join(2)
        _raise_if_blank(dying, again)
        assert effect.runs == 1, (
            f"a redelivery {LEASE_S + 0.15:.2f} s after its consumer died mid-effect "
            f"(lease_s={LEASE_S}) {again.outcome()} without running the effect: "
            "the message is lost"
        )

    with case(
        "lets the effect's error reach the caller",
        hint="If handle_once returns normally, the consumer acks and the broker forgets "
        "a message whose effect never happened.",
    ):
        failing = _Effect(fail=True)
        try:
            message_id = _fresh_id()
            handle_once(r, message_id, _body(message_id), failing)
        except HandlerFailed:
            pass
        else:
            raise AssertionError("the effect raised, and handle_once returned normally")

    with case(
        "lets a redelivery try again after the effect failed",
        hint="If the effect raised, the message was not handled: its next delivery is real work.",
    ):
        message_id, effect = _fresh_id(), _Effect()
        try:
            handle_once(r, message_id, _body(message_id), _Effect(fail=True))
        except HandlerFailed:
            pass
        handle_once(r, message_id, _body(message_id), effect)
        assert effect.runs == 1, (
            "the redelivery after a failed effect was skipped: the effect never happened"
        )


def _raise_if_blank(*consumers: _Consumer) -> None:
    """Let an untouched exercise read "not attempted", not as a failed race."""
    for consumer in consumers:
        if consumer.blank():
            raise consumer.error
