"""Check lesson 03's second task: read a stream of orders that breaks, and resume it.

The feed is a live server streaming orders with ids 5, 8, 11, ... It drops calls
with UNAVAILABLE at planned points, refuses a negative id with INVALID_ARGUMENT, or
stays down. The feed records every call, where it resumed, and how each ended.
"""

from __future__ import annotations

from labsupport.checks import task
from labsupport.waiting import wait_until

from ._fixtures import feed_under_test, learner_result
from .services_feed import FEED_STEP, OrderFeedServicer


def expected_ids(after_order_id: int, count: int) -> list[int]:
    """Return the ids the feed holds after after_order_id, the first count of them."""
    first = OrderFeedServicer.next_id(after_order_id)
    return [first + FEED_STEP * i for i in range(count)]


def ids_of(value) -> list[int]:
    """Return the order ids of what the learner returned, failing the case on anything else."""
    assert isinstance(value, list), f"returned a {type(value).__name__}, not a list of orders"
    return [order.order_id for order in value]


def describe(got: list[int], wanted: list[int]) -> str:
    """Say what is wrong with a list of ids: repeats, gaps or length."""
    repeats = sorted({i for i in got if got.count(i) > 1})
    missing = sorted(set(wanted) - set(got))
    parts = [f"got {len(got)} orders for {len(wanted)}"]
    if repeats:
        parts.append(f"repeated ids {repeats[:4]}")
    if missing:
        parts.append(f"missing ids {missing[:4]}")
    return ", ".join(parts)


@task("resume_feed", lesson="03", title="A stream reader that resumes after UNAVAILABLE")
def check_resume_feed(case, collect_orders):
    """Judge collect_orders(stub, after_order_id, count, *, max_attempts) on a live feed."""

    def run(after: int, count: int, max_attempts: int = 5, **feed_kw):
        with feed_under_test(**feed_kw) as (stub, feed):
            value, error = learner_result(
                collect_orders, stub, after, count, max_attempts=max_attempts
            )
            try:  # a call the learner ended is over within a moment; one left open is not
                wait_until(lambda: feed.calls and feed.calls[-1].ended != "open", 2, "an end")
            except TimeoutError:
                pass
            # how each call ended while the feed was up (stopping the server cancels the rest)
            ends = [call.ended for call in feed.calls]
            return value, error, feed, ends

    def expect_orders(value, error, after: int, count: int) -> None:
        assert error is None, f"raised {error.code().name} ({error.details()})"
        got, wanted = ids_of(value), expected_ids(after, count)
        assert got == wanted, describe(got, wanted)

    with case(
        "collects count orders after the given id when nothing breaks",
        hint="Orders come in id order; return exactly `count` of them, the first after "
        "after_order_id.",
    ):
        value, error, _, _ = run(after=20, count=6)
        expect_orders(value, error, 20, 6)

    with case(
        "after the feed drops once (UNAVAILABLE), no order is lost and none repeated",
        hint="UNAVAILABLE says 'try again': open the stream again, asking only for what "
        "you have not seen yet.",
    ):
        value, error, _, _ = run(after=0, count=10, drops=[4])
        expect_orders(value, error, 0, 10)

    with case(
        "resumes after the last order it saw",
        hint="WatchOrders sends orders with an id larger than after_order_id: the feed "
        "should not send an order twice.",
    ):
        value, error, feed, _ = run(after=0, count=10, drops=[4])
        resumed = [c.after_order_id for c in feed.calls]
        seen = expected_ids(0, 4)[-1]
        assert resumed == [0, seen], (
            f"the feed was asked for orders after ids {resumed}; the last order seen "
            f"before the drop was {seen}"
        )

    with case(
        "survives several drops, one of them before any order arrived",
        hint="A drop can come at any point, even before the first order of a call.",
    ):
        value, error, feed, _ = run(after=11, count=8, drops=[3, 0, 2])
        expect_orders(value, error, 11, 8)
        assert len(feed.calls) == 4, f"made {len(feed.calls)} calls for 3 drops"

    with case(
        "does not retry INVALID_ARGUMENT",
        hint="Only some codes say 'try again'; asking again with the same bad request "
        "gets the same answer. Let that error reach your caller.",
    ):
        value, error, feed, _ = run(after=-1, count=3)
        calls = len(feed.calls)
        assert calls == 1, f"asked {calls} times with after_order_id=-1"
        assert error is not None, f"returned {value!r} instead of raising the error"
        assert error.code().name == "INVALID_ARGUMENT", f"raised {error.code().name}"

    with case(
        "gives up after max_attempts calls when the feed stays down",
        hint="A feed that stays down will not come back because you ask faster: stop after "
        "max_attempts calls in all, and raise the last error.",
    ):
        value, error, feed, _ = run(after=0, count=3, max_attempts=4, down=True)
        calls = len(feed.calls)
        assert calls == 4, f"made {calls} calls with max_attempts=4 to a feed that stays down"
        assert error is not None and error.code().name == "UNAVAILABLE", (
            f"returned {value!r} instead of raising UNAVAILABLE"
            if error is None
            else f"raised {error.code().name}"
        )

    with case(
        "ends the stream once it has enough",
        hint="The feed never ends by itself: once you have `count` orders, the call must "
        "be cancelled, or the server keeps sending.",
    ):
        value, error, _, ends = run(after=0, count=5)
        assert ends[-1] == "cancelled", f"the call was still {ends[-1]} 2 s after you returned"
        sent = len(feed.calls[-1].sent)
        assert sent < 10_000, f"the feed sent {sent} orders for 5 wanted"
