"""Watch services from outside: every call they saw, states on one clock, hops of a trace.

- `CallLog` wraps an ASGI app and notes every HTTP request (lesson 01's retries and storms).
- `StateLog` records a circuit breaker's states on the clock of a measured run.
- `log_hop` / `read_trace` follow one correlation id across services and processes
  through a Redis stream (lesson 04's traced chain).

`CallLog` wraps an ASGI app so every HTTP request is noted with its arrival time and
final status, including requests that fault middleware answered before any route ran.
It can also answer a planned series of replies first (a scripted outage).

    log = CallLog(make_payments_app())
    run = serve_app(log, name="payments")
    log.plan((503, {}), (429, {"Retry-After": "1"}))   # the next two requests get these
    log.count(), log.gaps_s()
"""

from __future__ import annotations

import json
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

__all__ = ["Call", "CallLog", "StateLog", "log_hop", "most_within", "read_trace"]


@dataclass
class Call:
    """Describe one request a service received: when, what, and the status it got."""

    t_s: float  # time.perf_counter() at arrival
    method: str
    path: str
    status: int | None = None  # None while the reply is not sent yet


class CallLog:
    """Wrap an ASGI app; note every HTTP request and optionally answer planned replies first."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: list[Call] = []
        self._plan: deque[tuple[int, dict[str, str]]] = deque()
        self._lock = threading.Lock()

    def plan(self, *replies: tuple[int, dict[str, str]]) -> None:
        """Answer the next requests with these (status, headers), in order, before the app."""
        with self._lock:
            self._plan.extend(replies)

    def clear(self) -> None:
        """Forget the calls seen so far and any replies still planned."""
        with self._lock:
            self.calls.clear()
            self._plan.clear()

    def count(self, path: str | None = None) -> int:
        """Return how many requests arrived (for one path, or all)."""
        return len(self.times_s(path))

    def times_s(self, path: str | None = None) -> list[float]:
        """Return the arrival times (perf_counter seconds) of the requests seen."""
        with self._lock:
            return [c.t_s for c in self.calls if path is None or c.path == path]

    def gaps_s(self, path: str | None = None) -> list[float]:
        """Return the time between each request and the next one."""
        times = self.times_s(path)
        return [b - a for a, b in zip(times[:-1], times[1:], strict=True)]

    def since_first_s(self, path: str | None = None) -> list[float]:
        """Return arrival times in seconds since the first request seen."""
        times = self.times_s(path)
        return [t - times[0] for t in times]

    def statuses(self) -> list[int | None]:
        """Return the status of every request seen, in arrival order."""
        with self._lock:
            return [c.status for c in self.calls]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call = Call(time.perf_counter(), scope["method"], scope["path"])
        with self._lock:
            self.calls.append(call)
            planned = self._plan.popleft() if self._plan else None
        if planned is not None:
            call.status = planned[0]
            await _send_planned(send, *planned)
            return

        async def noting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                call.status = message["status"]
            await send(message)

        await self.app(scope, receive, noting_send)

    def __repr__(self) -> str:
        return f"<CallLog of {self.count()} calls, {len(self._plan)} planned replies left>"


async def _send_planned(send: Any, status: int, headers: dict[str, str]) -> None:
    body = json.dumps({"detail": f"planned fault: {status}"}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), str(v).encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def most_within(times_s: Sequence[float], window_s: float) -> int:
    """Return the largest number of sorted times that fall inside any window of window_s."""
    return max((bisect_left(times_s, t + window_s) - i for i, t in enumerate(times_s)), default=0)


class StateLog:
    """Record a circuit breaker's states on the clock of a measured run.

    `clocked(call)` wraps the run's call: the first call starts the clock, so state
    changes line up with the run's own request times (its first request is at 0 s).
    `record(state)` notes a state now; `listener()` is a pybreaker listener doing so.
    """

    def __init__(self, initial: str = "closed") -> None:
        self.origin_s: float | None = None
        self.transitions: list[tuple[float, str]] = [(0.0, initial)]

    def now_s(self) -> float:
        """Return seconds since the first call (0 before it)."""
        return 0.0 if self.origin_s is None else time.perf_counter() - self.origin_s

    def record(self, state: str) -> None:
        """Note that the breaker is in `state` from now on (repeats are ignored)."""
        state = str(state).replace("-", "_")
        if state != self.transitions[-1][1]:
            self.transitions.append((self.now_s(), state))

    def clocked(self, call: Callable[[], Any]) -> Callable[[], Any]:
        """Wrap a run's call so the first one starts this log's clock."""

        def first_starts_clock() -> Any:
            if self.origin_s is None:
                self.origin_s = time.perf_counter()
            return call()

        return first_starts_clock

    def listener(self) -> Any:
        """Return a pybreaker listener that records every state change here."""
        import pybreaker

        log = self

        class Recorder(pybreaker.CircuitBreakerListener):
            def state_change(self, cb, old_state, new_state) -> None:
                log.record(new_state.name)

        return Recorder()

    def count(self, state: str) -> int:
        """Return how many times the breaker entered `state`."""
        return sum(1 for _, s in self.transitions[1:] if s == state)

    def __repr__(self) -> str:
        moves = ", ".join(f"{s} at {t:.2f} s" for t, s in self.transitions)
        return f"<StateLog: {moves}>"


def log_hop(
    r: redis.Redis, trace_key: str, t: float, sender: str, to: str, label: str, cid: str
) -> None:
    """Append one hop, sent at wall-clock time t (processes agree on it), to the trace stream."""
    hop = {"t": t, "from": sender, "to": to, "label": label, "cid": cid}
    r.xadd(trace_key, hop, maxlen=10_000)


def read_trace(r: redis.Redis, trace_key: str) -> list[tuple[float, str, str, str, str]]:
    """Read the hops logged in a trace stream as (t_s, from, to, label, correlation_id)."""
    hops = []
    for _entry_id, hop in r.xrange(trace_key):
        text = {_text(k): _text(v) for k, v in hop.items()}
        hops.append((float(text["t"]), text["from"], text["to"], text["label"], text["cid"]))
    return sorted(hops)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
