"""Check lesson 01's second exercise task: a circuit breaker with closed, open and half-open.

The check drives the learner's breaker against the live payments service: healthy, then
refusing connections (FaultyProxy down), answering 503, answering 200 with a body the
caller cannot use, slow, then healthy again; and counts how often the breaker let the
call reach the service, from one caller and from several at once.
"""

from __future__ import annotations

import threading
import time

import httpx

from labsupport.checks import task

from ._fixtures import CircuitOpenError, Outcome, run_learner, services_under_test
from .checks_retry import PAYMENT

COOL_DOWN_S = 0.5
THRESHOLD = 3
# How long past the cool-down a case waits before it expects half-open: the breaker's
# own clock and this thread's sleep can differ by a few ms on a loaded machine. Calls meant
# to land inside the cool-down come at most 0.3 s after it opened: 0.2 s of room for a
# thread that oversleeps at a load average of 9.
PAST_COOL_DOWN_S = COOL_DOWN_S + 0.06


class _Service:
    """Call the payments service through an httpx client, counting the calls fn made."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=2.0)
        self.reached = 0
        self._lock = threading.Lock()

    def get_payment(self) -> dict:
        """The fn handed to the breaker: one GET; a 5xx or an unusable body raises."""
        with self._lock:
            self.reached += 1
        reply = self.client.get(PAYMENT)
        reply.raise_for_status()
        payment = reply.json()
        return {"payment_id": payment["payment_id"], "amount_cents": payment["amount_cents"]}


def attempt(breaker, service: _Service) -> Outcome:
    """Make one call through the breaker; keep whatever it raised for the case to judge."""
    return run_learner(breaker.call, service.get_payment, catch=Exception)


def _trip(breaker, service: _Service, payments) -> float:
    """Fail calls until the breaker opens (a few past the threshold at most); return when."""
    payments.proxy.set(down=True)
    for _ in range(THRESHOLD + 2):
        attempt(breaker, service)
        if breaker.state == "open":
            return time.monotonic()
    raise AssertionError(
        f"it never opened, even after {THRESHOLD + 2} failures in a row "
        f"with failure_threshold={THRESHOLD}"
    )


@task(
    "circuit_breaker", lesson="01", title="A circuit breaker: closed, open, half-open", timeout_s=6
)
def check_circuit_breaker(case, CircuitBreaker):  # noqa: N803 - the learner's class, by its name
    """Judge CircuitBreaker(failure_threshold, reset_timeout_s) with .call(fn) and .state."""
    with services_under_test("payments") as shop:
        payments = shop["payments"]
        service = _Service(payments.url)

        def new_breaker():
            payments.reset()
            service.reached = 0
            return CircuitBreaker(failure_threshold=THRESHOLD, reset_timeout_s=COOL_DOWN_S)

        with case(
            "passes calls through while the service is healthy",
            hint="Closed is the normal state: the caller should not notice the breaker.",
        ):
            breaker = new_breaker()
            results = [attempt(breaker, service) for _ in range(4)]
            errors = [r.error_name() for r in results if r.error is not None]
            assert not errors, f"raised {errors[0]} while the service was healthy"
            assert all(r.value == {"payment_id": 1, "amount_cents": 250} for r in results), (
                "did not return what fn returned"
            )
            assert service.reached == 4, f"fn ran {service.reached} times for 4 calls"
            assert breaker.state == "closed", f"state was {breaker.state!r} with a healthy service"

        with case(
            f"opens after exactly failure_threshold ({THRESHOLD}) failures in a row",
            hint="Count the failures the breaker let through before it started refusing.",
        ):
            breaker = new_breaker()
            payments.proxy.set(down=True)
            for i in range(1, THRESHOLD + 1):
                outcome = attempt(breaker, service)
                assert not isinstance(outcome.error, CircuitOpenError), (
                    f"refused call {i} although only {i - 1} had failed"
                )
            state = breaker.state
            assert state == "open", f"after {THRESHOLD} failures in a row its state was {state!r}"

        with case(
            "lets the caller see each failure's own exception",
            hint="The caller of a closed breaker should get exactly what fn raised.",
        ):
            breaker = new_breaker()
            payments.faults.set(error_rate=1.0)
            outcome = attempt(breaker, service)
            assert outcome.error is not None, (
                f"returned {outcome.value!r} when fn raised (the service answered 503)"
            )
            assert isinstance(outcome.error, httpx.HTTPStatusError), (
                f"raised {outcome.error_name()} when fn raised HTTPStatusError"
            )

        with case(
            "counts any exception from fn as a failure, not only httpx errors",
            hint="The service answered 200 with a body fn could not use: that call failed too.",
        ):
            breaker = new_breaker()
            payments.log.plan(*[(200, {})] * (THRESHOLD + 1))  # a body without the payment
            for _ in range(THRESHOLD + 1):  # one more than needed: only the kind is judged here
                attempt(breaker, service)
            state = breaker.state
            assert state == "open", (
                f"after {THRESHOLD + 1} calls that raised KeyError its state was {state!r}"
            )

        with case(
            "counts failures in a row, not in total",
            hint="A success shows the service works again.",
        ):
            breaker = new_breaker()
            for rate in (1.0, 1.0, 0.0, 1.0, 1.0):
                payments.faults.set(error_rate=rate)
                attempt(breaker, service)
            assert breaker.state == "closed", (
                f"fail, fail, success, fail, fail left it {breaker.state!r} "
                f"with failure_threshold={THRESHOLD}"
            )
            assert service.reached == 5, f"fn ran only {service.reached} of 5 times"

        with case(
            "fails fast while open, without calling the service",
            hint="While open, the service should see no calls, and the caller should learn why "
            "at once.",
        ):
            breaker = new_breaker()
            _trip(breaker, service, payments)
            service.reached = 0
            outcomes = [attempt(breaker, service) for _ in range(5)]
            kinds = sorted({o.error_name() or "a result" for o in outcomes})
            assert service.reached == 0, f"fn ran {service.reached} times in 5 calls while open"
            assert kinds == ["CircuitOpenError"], f"while open, the calls gave {', '.join(kinds)}"

        with case(
            "is half-open once the cool-down has passed",
            hint="Read state just after reset_timeout_s has passed since the breaker opened.",
        ):
            breaker = new_breaker()
            opened = _trip(breaker, service, payments)
            time.sleep(max(0.0, opened + PAST_COOL_DOWN_S - time.monotonic()))
            state = breaker.state
            assert state == "half_open", f"after the cool-down its state was {state!r}"

        with case(
            "keeps its cool-down while refused calls keep coming",
            hint="Calls that arrive while it is open: do they change when the trial may happen?",
        ):
            breaker = new_breaker()
            opened = _trip(breaker, service, payments)
            for at_s in (0.1, 0.2, 0.3):
                time.sleep(max(0.0, opened + at_s - time.monotonic()))
                attempt(breaker, service)
            service.reached = 0
            time.sleep(max(0.0, opened + PAST_COOL_DOWN_S - time.monotonic()))
            outcome = attempt(breaker, service)
            assert service.reached == 1, (
                f"refused a call {COOL_DOWN_S + 0.06:.2f} s after it opened "
                f"(reset_timeout_s={COOL_DOWN_S}) because calls had come in meanwhile "
                f"({outcome.error_name() or 'a result'})"
            )

        with case(
            "lets one trial call through when several callers come at once",
            hint="After the cool-down the service may still be sick: count how many callers "
            "reach it while the first trial is still on its way.",
        ):
            breaker = new_breaker()
            opened = _trip(breaker, service, payments)
            payments.proxy.set(down=False)
            payments.faults.set(delay_ms=500)  # the trial is still in flight when the rest come
            time.sleep(max(0.0, opened + PAST_COOL_DOWN_S - time.monotonic()))
            service.reached = 0
            outcomes = _together(attempt, breaker, service, callers=5)
            kinds = sorted(o.error_name() or "a result" for o in outcomes)
            assert service.reached == 1, (
                f"{service.reached} of 5 callers arriving together after the cool-down "
                "reached the service"
            )
            assert kinds.count("CircuitOpenError") == 4, f"the 5 callers got {', '.join(kinds)}"

        with case(
            "a failed trial call opens it again at once",
            hint="After a failed trial, look at the state and whether the next call reaches "
            "the service.",
        ):
            breaker = new_breaker()
            opened = _trip(breaker, service, payments)
            time.sleep(max(0.0, opened + PAST_COOL_DOWN_S - time.monotonic()))
            service.reached = 0
            attempt(breaker, service)
            assert service.reached == 1, (
                f"after the cool-down, fn ran {service.reached} times for one call"
            )
            state = breaker.state
            assert state == "open", f"after a failed trial its state was {state!r}"
            attempt(breaker, service)
            assert service.reached == 1, (
                "after a failed trial, the next call still reached the service"
            )

        with case(
            "a successful trial call closes it and forgets old failures",
            hint="After a good trial, count how many new failures it takes to open again.",
        ):
            breaker = new_breaker()
            opened = _trip(breaker, service, payments)
            payments.proxy.set(down=False)
            time.sleep(max(0.0, opened + PAST_COOL_DOWN_S - time.monotonic()))
            outcome = attempt(breaker, service)
            assert outcome.error is None, f"the trial call raised {outcome.error_name()}"
            assert breaker.state == "closed", f"after a good trial its state was {breaker.state!r}"
            payments.faults.set(error_rate=1.0)
            for _ in range(THRESHOLD - 1):
                attempt(breaker, service)
            assert breaker.state == "closed", (
                f"{THRESHOLD - 1} new failures opened it: old failures still counted"
            )
        service.client.close()


def _together(fn, *args, callers: int) -> list:
    """Call fn(*args) from `callers` threads released at the same instant."""
    gate, outcomes = threading.Barrier(callers), []

    def caller() -> None:
        gate.wait(2)
        outcomes.append(fn(*args))

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(3)
    return outcomes
