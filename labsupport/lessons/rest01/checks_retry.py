"""Check lesson 01's first exercise task: a GET with retries, backoff, jitter and a deadline.

The check runs the learner's code against the live payments service with faults
injected (planned 2xx, 4xx, 5xx and 429 replies, `Retry-After` in seconds or as an HTTP
date, steady 503s, slow replies, a refused connection) and judges what the service saw:
how many calls, and when. Random waits are seeded per case, so a verdict repeats.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx

from labsupport.checks import task

from ._fixtures import Outcome, expect_reply, run_learner, services_under_test

PAYMENT = "/payments/1"
MISSING_PAYMENT = "/payments/4040"
# Short waits keep the cases quick; each case sets its own deadline.
FAST = {"base_delay_s": 0.001, "max_delay_s": 1.0}
# On the course's 2-core VM a call through the proxy took 2-40 ms idle, and up to ~0.2 s at
# a load average of 9; every bound below leaves that much room and more, and sits far from
# what the wrong answer it targets does (which only gets slower under load).
CALL_SLACK_S = 0.3


@task(
    "retry_get", lesson="01", title="GET with retries, backoff, jitter and a deadline", timeout_s=6
)
def check_retry_get(case, get_with_retries):
    """Judge get_with_retries(client, path, *, max_attempts, base_delay_s, max_delay_s, deadline_s)."""
    with services_under_test("payments") as shop:
        payments = shop["payments"]
        client = httpx.Client(base_url=payments.url, timeout=2.0)

        def call(path: str = PAYMENT, **knobs) -> Outcome:
            return run_learner(
                get_with_retries, client, path, **({**FAST, "deadline_s": 5} | knobs)
            )

        def fresh(seed: int) -> None:
            payments.reset()
            random.seed(seed)  # the learner's random waits repeat from run to run

        with case(
            "returns the good reply once a flaky service recovers",
            hint="503 means 'not now': the same request may work a moment later.",
        ):
            fresh(1)
            payments.log.plan((503, {}), (503, {}))
            reply = expect_reply(call(), "while the service failed twice and then recovered")
            assert reply.status_code == 200, f"returned a {reply.status_code} reply after recovery"
            calls = payments.log.count()
            assert calls == 3, f"the service saw {calls} calls for two failures and one success"

        with case(
            "returns a 201 at once: every 2xx is a success",
            hint="The service answered 201 Created; it did what was asked.",
        ):
            fresh(2)
            payments.log.plan((201, {}))
            reply = expect_reply(call(), "for a 201 reply")
            calls = payments.log.count()
            assert calls == 1, f"asked {calls} times although the first reply was a 201"
            assert reply.status_code == 201, f"returned a {reply.status_code} reply for a 201"

        with case(
            "asks only once for a payment that does not exist (404)",
            hint="A 404 will be a 404 however often you ask.",
        ):
            fresh(3)
            reply = expect_reply(call(MISSING_PAYMENT), "for a 404")
            calls = payments.log.count()
            assert calls == 1, f"asked {calls} times for a payment that does not exist"
            assert reply.status_code == 404, f"returned a {reply.status_code} reply for a 404"

        with case(
            "asks only once when the request itself is refused (400, 409, 422)",
            hint="Most 4xx replies say the request itself is wrong, and it stays wrong.",
        ):
            for status in (400, 409, 422):
                fresh(4)
                payments.log.plan((status, {}), (status, {}), (status, {}))
                reply = expect_reply(call(), f"for a {status}")
                calls = payments.log.count()
                assert calls == 1, f"asked {calls} times for a request answered {status}"
                assert reply.status_code == status, (
                    f"returned a {reply.status_code} reply for a {status}"
                )

        with case(
            "stops after max_attempts calls",
            hint="Count the calls the service saw: the first one is an attempt too.",
        ):
            fresh(5)
            payments.faults.set(error_rate=1.0)
            call(max_attempts=4)
            calls = payments.log.count()
            assert calls == 4, (
                f"made {calls} calls with max_attempts=4 to a service that stays down"
            )

        with case(
            "returns the last reply when the service keeps failing",
            hint="After the last attempt the caller still wants to see what the service said.",
        ):
            fresh(6)
            payments.faults.set(error_rate=1.0)
            reply = expect_reply(call(max_attempts=3), "when every attempt got a 503")
            assert reply.status_code == 503, f"returned a {reply.status_code} reply in the end"

        with case(
            "raises the connection error when the service never comes back",
            hint="With no reply at all there is nothing to return: the caller must learn why.",
        ):
            fresh(7)
            payments.proxy.set(down=True)
            outcome = call(max_attempts=3, deadline_s=2)
            assert outcome.error is not None, (
                f"returned {type(outcome.value).__name__} although no call ever got a reply"
            )
            assert isinstance(outcome.error, httpx.TransportError), (
                f"raised {outcome.error_name()}, not the error the last call got"
            )

        with case(
            "rides out a short outage (connection refused)",
            hint="While the service is down, httpx raises instead of returning a reply; "
            "the outage may end a moment later.",
        ):
            fresh(8)
            payments.proxy.set(down=True)
            back_up = threading.Timer(0.3, payments.proxy.set, kwargs={"down": False})
            back_up.start()
            try:
                outcome = call(max_attempts=15, base_delay_s=0.05, max_delay_s=0.2, deadline_s=4)
            finally:
                back_up.cancel()  # a call that gave up early must not meet a stopped proxy
                back_up.join()
            reply = expect_reply(outcome, "while the service was down for 0.3 s")
            assert reply.status_code == 200, (
                f"returned a {reply.status_code} reply after the outage"
            )

        with case(
            "waits longer after each failure, by a random amount",
            hint="Compare the waits within a run, and the same wait across runs.",
        ):
            fresh(9)
            payments.faults.set(error_rate=1.0)
            runs = []
            for _ in range(3):
                payments.log.clear()
                call(max_attempts=7, base_delay_s=0.02, max_delay_s=1.0, deadline_s=10)
                runs.append(payments.log.gaps_s())
            assert_backoff_grows_with_jitter(runs, base_delay_s=0.02)

        with case(
            "never waits longer than max_delay_s between two calls",
            hint="Look at the longest waits of a long run against max_delay_s.",
        ):
            fresh(10)
            payments.faults.set(error_rate=1.0)
            call(max_attempts=10, base_delay_s=0.01, max_delay_s=0.05, deadline_s=10)
            gaps = payments.log.gaps_s()
            longest = max(gaps, default=0.0)
            assert longest <= 0.05 + CALL_SLACK_S, (
                f"waited {longest:.2f} s between two calls although max_delay_s was 0.05"
            )

        with case(
            "does not start a wait that would end past the deadline",
            hint="Compare when the next call would happen with when the caller stops waiting.",
        ):
            fresh(11)
            payments.log.plan((429, {"Retry-After": "1"}))
            call(deadline_s=0.5)
            calls = payments.log.count()
            assert calls == 1, (
                f"made {calls} calls: the second came 1 s after the first, past deadline_s=0.5"
            )

        with case(
            "gives up at the deadline when every call is slow",
            hint="The deadline counts time spent in calls too, not only time spent waiting.",
            timeout_s=8,
        ):
            fresh(12)
            payments.faults.set(error_rate=1.0, delay_ms=300)
            outcome = call(max_attempts=20, base_delay_s=0.01, max_delay_s=0.02, deadline_s=1.0)
            late_s = outcome.elapsed_s - 1.0
            assert late_s <= 0.3 + 2 * CALL_SLACK_S, (
                f"returned {outcome.elapsed_s:.2f} s after the first call with deadline_s=1.0 "
                f"and calls taking 0.3 s ({payments.log.count()} calls)"
            )

        with case(
            "waits as long as Retry-After asks on a 429, even past max_delay_s",
            hint="429 Too Many Requests comes with a Retry-After header: the service says "
            "how many seconds it needs.",
        ):
            fresh(13)
            payments.log.plan((429, {"Retry-After": "1"}))
            reply = expect_reply(call(max_delay_s=0.2), "after a 429 that asked to wait 1 s")
            gaps = payments.log.gaps_s()
            assert gaps, "returned the 429 without asking again"
            assert gaps[0] >= 0.95, f"asked again {gaps[0]:.2f} s later although Retry-After was 1"
            assert reply.status_code == 200, f"returned a {reply.status_code} reply in the end"

        with case(
            "waits as long as Retry-After asks on a 503, given as an HTTP date",
            hint="A 503 may carry Retry-After too, and its value may be a date instead of seconds.",
        ):
            fresh(14)
            when = datetime.now(timezone.utc) + timedelta(seconds=2)
            payments.log.plan((503, {"Retry-After": format_datetime(when, usegmt=True)}))
            reply = expect_reply(call(), "after a 503 that asked to wait until a date")
            gaps = payments.log.gaps_s()
            assert gaps, "returned the 503 without asking again"
            assert gaps[0] >= 0.95, (
                f"asked again {gaps[0]:.2f} s later although Retry-After named a time "
                "1 to 2 s ahead"
            )
            assert reply.status_code == 200, f"returned a {reply.status_code} reply in the end"
        client.close()


def assert_backoff_grows_with_jitter(runs: list[list[float]], base_delay_s: float) -> None:
    """Fail unless the waits grow along each run and some are drawn well below their cap.

    A wait without jitter lasts its whole cap (base_delay_s * 2**attempt) or more, however
    loaded the machine; with full jitter, some of the long ones (cap >= 8 * base) come out
    well below it. The learner's draws are seeded, so the verdict repeats.
    """
    if any(len(gaps) < 6 for gaps in runs):
        counts = sorted({len(gaps) + 1 for gaps in runs})
        raise AssertionError(f"made {counts} calls per run with max_attempts=7 to a dead service")
    # A gap between two calls is a wait plus a call, and on a busy machine the call alone can
    # outlast the first waits: count each gap above the shortest gap of its run.
    above = [[g - min(gaps) for g in gaps] for gaps in runs]
    early = sum(sum(gaps[:2]) for gaps in above)
    late = sum(sum(gaps[4:6]) for gaps in above)
    assert late >= 2 * early and late >= 2 * base_delay_s * len(runs), (
        f"the waits did not grow: beyond the shortest gap of each run, the first two waits took "
        f"{early / len(runs):.3f} s per run, the fifth and sixth {late / len(runs):.3f} s"
    )
    short = [gaps[k] for gaps in runs for k in (3, 4, 5) if gaps[k] < 0.6 * base_delay_s * 2**k]
    if not short:
        last = ", ".join(f"{gaps[5]:.3f}" for gaps in runs)
        raise AssertionError(
            f"every wait lasted its whole upper bound ({last} s before the last call of each "
            "run): clients that fail together would retry together"
        )
