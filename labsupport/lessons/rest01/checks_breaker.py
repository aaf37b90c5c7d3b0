"""Check lesson 01's second exercise task: a circuit breaker with closed, open and half-open.

The check drives the learner's breaker against the live payments service: healthy, then
refusing connections (FaultyProxy down) or answering 503, then healthy again, and counts
how often the breaker let the call reach the service.
"""

from __future__ import annotations

import time

import httpx

from labsupport.checks import task

from ._fixtures import CircuitOpenError, run_learner, services_under_test
from .checks_retry import PAYMENT

COOL_DOWN_S = 0.25


@task(
    "circuit_breaker", lesson="01", title="A circuit breaker: closed, open, half-open", timeout_s=6
)
def check_circuit_breaker(case, CircuitBreaker):  # noqa: N803 - the learner's class, by its name
    """Judge CircuitBreaker(failure_threshold, reset_timeout_s) with .call(fn) and .state."""
    with services_under_test("payments") as shop:
        payments = shop["payments"]
        client = httpx.Client(base_url=payments.url, timeout=2.0)
        reached = [0]  # how many times the breaker let fn run

        def get_payment() -> dict:
            reached[0] += 1
            reply = client.get(PAYMENT)
            reply.raise_for_status()
            return reply.json()

        def new_breaker():
            return CircuitBreaker(failure_threshold=3, reset_timeout_s=COOL_DOWN_S)

        def trip(breaker) -> None:
            payments.proxy.set(down=True)
            for _ in range(3):
                run_learner(breaker.call, get_payment)
            state = breaker.state
            assert state == "open", f"after 3 failures in a row its state was {state!r}"

        with case(
            "passes calls through while the service is healthy",
            hint="Closed is the normal state: call fn and hand back what it returns.",
        ):
            payments.reset()
            breaker, reached[0] = new_breaker(), 0
            results = [run_learner(breaker.call, get_payment) for _ in range(4)]
            errors = [r.error_name() for r in results if r.error is not None]
            assert not errors, f"raised {errors[0]} while the service was healthy"
            assert all(
                isinstance(r.value, dict) and r.value.get("payment_id") == 1 for r in results
            ), "did not return what fn returned"
            assert reached[0] == 4, f"fn ran {reached[0]} times for 4 calls"
            assert breaker.state == "closed", f"state was {breaker.state!r} with a healthy service"

        with case(
            "opens after failure_threshold failures in a row",
            hint="Count failures in a row; at failure_threshold, switch to open.",
        ):
            payments.reset()
            breaker, reached[0] = new_breaker(), 0
            payments.proxy.set(down=True)
            for i in range(1, 4):
                outcome = run_learner(breaker.call, get_payment)
                assert not isinstance(outcome.error, CircuitOpenError), (
                    f"refused call {i} although only {i - 1} had failed"
                )
                assert outcome.error is not None, f"call {i} to a dead service did not raise"
            assert breaker.state == "open", (
                f"after 3 failures in a row its state was {breaker.state!r}"
            )

        with case(
            "counts failures in a row, not in total",
            hint="A success shows the service works again: start counting from zero.",
        ):
            payments.reset()
            breaker, reached[0] = new_breaker(), 0
            for rate in (1.0, 1.0, 0.0, 1.0, 1.0):
                payments.faults.set(error_rate=rate)
                run_learner(breaker.call, get_payment)
            assert breaker.state == "closed", (
                f"fail, fail, success, fail, fail left it {breaker.state!r} with failure_threshold=3"
            )
            assert reached[0] == 5, f"fn ran only {reached[0]} of 5 times"

        with case(
            "fails fast while open, without calling the service",
            hint="While open, raise CircuitOpenError at once; do not call fn at all.",
        ):
            payments.reset()
            breaker = new_breaker()
            trip(breaker)
            reached[0] = 0
            outcomes = [run_learner(breaker.call, get_payment) for _ in range(5)]
            kinds = sorted({o.error_name() or "a result" for o in outcomes})
            assert reached[0] == 0, f"fn ran {reached[0]} times in 5 calls while open"
            assert kinds == ["CircuitOpenError"], f"while open, the calls gave {', '.join(kinds)}"

        with case(
            "is half-open once the cool-down has passed",
            hint="state should read 'half_open' when reset_timeout_s has passed since it opened.",
        ):
            payments.reset()
            breaker = new_breaker()
            trip(breaker)
            time.sleep(COOL_DOWN_S + 0.05)
            state = breaker.state
            assert state == "half_open", f"after the cool-down its state was {state!r}"

        with case(
            "a failed trial call opens it again at once",
            hint="In half-open, one trial call goes through; if it fails, open again and start "
            "a new cool-down.",
        ):
            payments.reset()
            breaker = new_breaker()
            trip(breaker)
            time.sleep(COOL_DOWN_S + 0.05)
            reached[0] = 0
            run_learner(breaker.call, get_payment)
            assert reached[0] == 1, f"after the cool-down, fn ran {reached[0]} times for one call"
            state = breaker.state
            assert state == "open", f"after a failed trial its state was {state!r}"
            run_learner(breaker.call, get_payment)
            assert reached[0] == 1, "after a failed trial, the next call still reached the service"

        with case(
            "a successful trial call closes it and forgets old failures",
            hint="A successful trial means the service is back: close, and count failures from zero.",
        ):
            payments.reset()
            breaker = new_breaker()
            trip(breaker)
            payments.proxy.set(down=False)
            time.sleep(COOL_DOWN_S + 0.05)
            outcome = run_learner(breaker.call, get_payment)
            assert outcome.error is None, f"the trial call raised {outcome.error_name()}"
            assert breaker.state == "closed", f"after a good trial its state was {breaker.state!r}"
            payments.faults.set(error_rate=1.0)
            for _ in range(2):
                run_learner(breaker.call, get_payment)
            assert breaker.state == "closed", "2 new failures opened it: old failures still counted"
        client.close()
