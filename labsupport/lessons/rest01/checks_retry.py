"""Check lesson 01's first exercise task: a GET with retries, backoff, jitter and a deadline.

The check runs the learner's code against the live payments service with faults
injected (planned 5xx and 429 replies, steady 503s, a refused connection) and judges
what the service saw: how many calls, and when.
"""

from __future__ import annotations

import threading

import httpx

from labsupport.checks import task

from ._fixtures import expect_reply, run_learner, services_under_test

PAYMENT = "/payments/1"
MISSING_PAYMENT = "/payments/4040"
# Short waits keep the cases quick; each case sets its own deadline.
FAST = {"base_delay_s": 0.001, "max_delay_s": 1.0}


@task(
    "retry_get", lesson="01", title="GET with retries, backoff, jitter and a deadline", timeout_s=5
)
def check_retry_get(case, get_with_retries):
    """Judge get_with_retries(client, path, *, max_attempts, base_delay_s, max_delay_s, deadline_s)."""
    with services_under_test("payments") as shop:
        payments = shop["payments"]
        client = httpx.Client(base_url=payments.url, timeout=2.0)

        def call(path: str = PAYMENT, **knobs):
            return run_learner(
                get_with_retries, client, path, **({**FAST, "deadline_s": 5} | knobs)
            )

        with case(
            "returns the good reply once a flaky service recovers",
            hint="503 means 'not now': ask again, and hand back the first 2xx reply you get.",
        ):
            payments.reset()
            payments.log.plan((503, {}), (503, {}))
            reply = expect_reply(call(), "while the service failed twice and then recovered")
            assert reply.status_code == 200, f"returned a {reply.status_code} reply after recovery"
            calls = payments.log.count()
            assert calls == 3, f"the service saw {calls} calls for two failures and one success"

        with case(
            "asks only once for a payment that does not exist (404)",
            hint="A 4xx says the request itself is wrong; asking again gets the same answer.",
        ):
            payments.reset()
            reply = expect_reply(call(MISSING_PAYMENT), "for a 404")
            calls = payments.log.count()
            assert calls == 1, f"asked {calls} times for a payment that does not exist"
            assert reply.status_code == 404, f"returned a {reply.status_code} reply for a 404"

        with case(
            "stops after max_attempts calls",
            hint="max_attempts counts every call, the first one included.",
        ):
            payments.reset()
            payments.faults.set(error_rate=1.0)
            call(max_attempts=4)
            calls = payments.log.count()
            assert calls == 4, (
                f"made {calls} calls with max_attempts=4 to a service that stays down"
            )

        with case(
            "waits longer after each failure, by a random amount",
            hint="Each wait's upper bound should double, and the wait is drawn at random below it.",
        ):
            payments.reset()
            payments.faults.set(error_rate=1.0)
            runs = []
            for _ in range(4):
                payments.log.clear()
                call(max_attempts=10, deadline_s=10)
                runs.append(payments.log.gaps_s())
            assert_backoff_grows_with_jitter(runs)

        with case(
            "gives up at the deadline",
            hint="Before each wait, check whether it would end after the deadline; if so, stop.",
            timeout_s=10,
        ):
            payments.reset()
            payments.faults.set(error_rate=1.0)
            outcome = call(max_attempts=12, base_delay_s=0.05, max_delay_s=0.4, deadline_s=0.6)
            calls = payments.log.count()
            assert outcome.elapsed_s < 0.6 + 0.35, (
                f"returned after {outcome.elapsed_s:.2f} s although deadline_s was 0.6"
            )
            assert calls >= 2, f"made only {calls} call(s) when the deadline left time for more"

        with case(
            "waits as long as Retry-After asks on a 429",
            hint="429 Too Many Requests is the 4xx worth retrying: its Retry-After header says "
            "how many seconds to wait first.",
        ):
            payments.reset()
            payments.log.plan((429, {"Retry-After": "1"}))
            reply = expect_reply(call(), "after a 429 that asked to wait 1 s")
            gaps = payments.log.gaps_s()
            assert gaps, "returned the 429 without asking again"
            assert gaps[0] >= 0.95, f"asked again {gaps[0]:.2f} s later although Retry-After was 1"
            assert reply.status_code == 200, f"returned a {reply.status_code} reply in the end"

        with case(
            "rides out a short outage (connection refused)",
            hint="While a service is down httpx raises (httpx.ConnectError) instead of returning "
            "a reply: treat transport errors like a 503.",
        ):
            payments.reset()
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
        client.close()


def assert_backoff_grows_with_jitter(runs: list[list[float]]) -> None:
    """Fail unless the waits grow along each run and differ from run to run."""
    if any(len(gaps) < 6 for gaps in runs):
        counts = sorted({len(gaps) + 1 for gaps in runs})
        raise AssertionError(f"made {counts} calls per run with max_attempts=10 to a dead service")
    early = sum(sum(gaps[:3]) for gaps in runs)
    late = sum(sum(gaps[-3:]) for gaps in runs)
    assert late >= 3 * early, (
        f"the waits did not grow: the first three waits took {early / len(runs):.3f} s per run, "
        f"the last three {late / len(runs):.3f} s"
    )
    for k in (-3, -2, -1):  # the longest waits, where a random draw shows most
        waits = [gaps[k] for gaps in runs]
        if max(waits) - min(waits) >= max(0.015, 0.25 * max(waits)):
            return
    last = ", ".join(f"{gaps[-1]:.3f}" for gaps in runs)
    raise AssertionError(
        f"every run waited the same ({last} s before the last call): clients that fail "
        "together would retry together"
    )
