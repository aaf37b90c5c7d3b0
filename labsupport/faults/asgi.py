"""Make a FastAPI/Starlette service answer 5xx or slowly, on purpose, at a chosen rate.

First used in lesson 01 (retries, backoff, circuit breakers). The service keeps its
own `@app.get(...)` routes; the faults sit in front of them as ASGI middleware:

    faults = add_faults(app, error_rate=0.2, status=503, seed=1)
    faults.set(error_rate=0.5)      # live, no restart
    faults.stats                    # FaultStats(requests=..., errors_injected=..., ...)
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from ._dice import Dice, FaultStats


@dataclass(frozen=True)
class HttpFaultKnobs:
    """Hold the HTTP fault settings; the defaults inject nothing.

    `delay_rate` is the share of requests that wait `delay_ms` ± `jitter_ms` (all of
    them by default); `error_rate` is the share answered with `status` instead of
    reaching the route, with a `Retry-After` header when `retry_after_s` is set.
    """

    error_rate: float = 0.0
    status: int = 503
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    delay_rate: float = 1.0
    retry_after_s: float | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error code (400-599), got {self.status!r}")


class HttpFaults(Dice):
    """Hold the knobs, dice and counters that `FaultInjector` middleware uses."""

    knobs_type = HttpFaultKnobs
    rate_knob = "error_rate"

    def __repr__(self) -> str:
        k, s = self.knobs, self.stats
        return (
            f"<HttpFaults {k.error_rate:.0%} -> {k.status}, delay {k.delay_ms:g}±{k.jitter_ms:g} ms"
            f" on {k.delay_rate:.0%}; {s.errors_injected} errors in {s.requests} requests>"
        )


class FaultInjector:
    """ASGI middleware that delays or fails HTTP requests according to an `HttpFaults`.

    Either `app.add_middleware(FaultInjector, faults=faults)` with your own
    `faults = HttpFaults(error_rate=0.2)`, or wrap: `FaultInjector(app, error_rate=0.2)`
    (then `.set`, `.knobs` and `.stats` are on the wrapper). Only HTTP requests are
    touched; lifespan and websocket traffic pass through.
    """

    def __init__(self, app: Any, faults: HttpFaults | None = None, seed: int | None = 0, **knobs):
        if faults is not None and knobs:
            raise TypeError("pass either faults=HttpFaults(...) or knobs, not both")
        self.app = app
        self.faults = faults if faults is not None else HttpFaults(seed, **knobs)

    def set(self, **knobs: Any) -> HttpFaultKnobs:
        """Change knobs now; see `HttpFaultKnobs`."""
        return self.faults.set(**knobs)

    @property
    def knobs(self) -> HttpFaultKnobs:
        """Return the current settings."""
        return self.faults.knobs

    @property
    def stats(self) -> FaultStats:
        """Return a snapshot of the counters."""
        return self.faults.stats

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        decision = self.faults.decide()
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        if decision.fail:
            await _send_error(send, self.faults.knobs)
        else:
            await self.app(scope, receive, send)


async def _send_error(send: Any, knobs: HttpFaultKnobs) -> None:
    try:
        phrase = HTTPStatus(knobs.status).phrase
    except ValueError:  # a valid but unnamed code such as 599
        phrase = ""
    body = json.dumps({"detail": f"injected fault: {knobs.status} {phrase}".strip()}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-injected-fault", b"true"),
    ]
    if knobs.retry_after_s is not None:
        headers.append((b"retry-after", str(round(knobs.retry_after_s)).encode()))
    await send({"type": "http.response.start", "status": knobs.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def add_faults(app: Any, seed: int | None = 0, **knobs: Any) -> HttpFaults:
    """Put fault middleware in front of a FastAPI/Starlette `app`; return its controls.

    Knobs: error_rate, status, delay_ms, jitter_ms, delay_rate, retry_after_s (see
    `HttpFaultKnobs`). Calling it again on the same app (a re-run cell) reconfigures
    the existing middleware instead of stacking a second one. Works on an app that is
    already serving: the middleware stack is rebuilt on the next request.
    """
    for middleware in app.user_middleware:
        faults = middleware.kwargs.get("faults")
        if middleware.cls is FaultInjector and isinstance(faults, HttpFaults):
            faults.configure(seed, **knobs)
            return faults
    faults = HttpFaults(seed, **knobs)
    # Starlette refuses add_middleware once the app has served a request; it builds the
    # stack lazily, so clearing it makes the next request pick up the new layer.
    app.middleware_stack = None
    app.add_middleware(FaultInjector, faults=faults)
    return faults
