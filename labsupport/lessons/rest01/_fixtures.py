"""Start the live services lesson 01's checks run learners' code against, and judge outcomes.

Every check gets real uvicorn services in this kernel, each behind the lab's fault
middleware (5xx, delays, Retry-After) and a FaultyProxy (refused connections, black
holes). `run_learner` calls the learner's code and keeps network symptoms for the
case to judge; only NotImplementedError passes through, so an untouched task reads as
"not attempted yet".
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from labsupport import serve_app
from labsupport.faults import FaultyProxy, HttpFaults, add_faults
from labsupport.observe import CallLog
from labsupport.shop import make_orders_app, make_payments_app, make_users_app


class CircuitOpenError(RuntimeError):
    """Raised by a circuit breaker that refuses a call because it is open."""


@dataclass
class Service:
    """One service under test: its call log, fault knobs, the proxy in front, and its URL."""

    name: str
    log: CallLog
    faults: HttpFaults
    proxy: FaultyProxy
    direct_url: str  # the service itself, bypassing the proxy (for the check's own reads)

    @property
    def url(self) -> str:
        """Return the URL clients use: through the proxy, so outages can be injected."""
        return f"http://{self.proxy.target}"

    def reset(self) -> None:
        """Remove every fault and forget the calls seen."""
        self.faults.reset()
        self.proxy.reset()
        self.log.clear()


@contextmanager
def services_under_test(*names: str) -> Iterator[dict[str, Service]]:
    """Serve the named shop services (users, orders, payments), each with faults and a proxy."""
    factories = {"users": make_users_app, "orders": make_orders_app, "payments": make_payments_app}
    with ExitStack() as stack:
        found = {}
        for name in names:
            app = factories[name]()
            faults = add_faults(app)  # no faults until a case turns some on
            log = CallLog(app)
            run = stack.enter_context(serve_app(log, name=f"check-{name}"))
            proxy = stack.enter_context(FaultyProxy(run, name=f"check-{name}"))
            found[name] = Service(name, log, faults, proxy, run.url)
        yield found


@dataclass
class Outcome:
    """What the learner's code did: its value or the network error it let out, and how long."""

    value: Any
    error: BaseException | None
    elapsed_s: float

    def error_name(self) -> str:
        return type(self.error).__name__ if self.error is not None else ""


SYMPTOMS = (httpx.HTTPError, CircuitOpenError)


def run_learner(
    fn: Callable[..., Any], *args: Any, catch: Any = SYMPTOMS, **kwargs: Any
) -> Outcome:
    """Call the learner's fn; keep the errors in `catch` (network symptoms) for the case.

    NotImplementedError always passes through, so an untouched task reads as not attempted.
    """
    started = time.perf_counter()
    try:
        value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            value = _finish(value)
    except NotImplementedError:
        raise
    except catch as exc:
        return Outcome(None, exc, time.perf_counter() - started)
    return Outcome(value, None, time.perf_counter() - started)


def _finish(awaitable: Any) -> Any:
    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())


def run_learner_async(
    fn: Callable[..., Any], *args: Any, client_timeout_s: float = 3.0, **kwargs: Any
) -> Outcome:
    """Run an async learner function with a fresh httpx.AsyncClient as its first argument."""

    async def with_client() -> Any:
        async with httpx.AsyncClient(timeout=client_timeout_s) as client:
            value = fn(client, *args, **kwargs)
            return await value if inspect.isawaitable(value) else value

    started = time.perf_counter()
    try:
        value = asyncio.run(with_client())
    except SYMPTOMS as exc:
        return Outcome(None, exc, time.perf_counter() - started)
    return Outcome(value, None, time.perf_counter() - started)


def expect_reply(outcome: Outcome, situation: str) -> httpx.Response:
    """Fail the case unless the learner's code returned an httpx.Response."""
    if outcome.error is not None:
        raise AssertionError(f"raised {outcome.error_name()} {situation}, instead of returning")
    if not isinstance(outcome.value, httpx.Response):
        got = type(outcome.value).__name__
        raise AssertionError(f"returned a {got} {situation}; it should return the httpx.Response")
    return outcome.value
