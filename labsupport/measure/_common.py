"""Share what both load loops need: argument checks, status errors, progress and ticks."""

from __future__ import annotations

import functools
import inspect
import threading
import time
import warnings
from collections.abc import Callable

# Nothing the harness starts may run forever, whatever a learner passes.
MAX_DURATION_S = 300.0
MAX_REQUESTS = 2_000_000
TICK_S = 0.25
PROGRESS_AFTER_S = 2.0


def check_call(call: object) -> bool:
    """Reject what cannot be called without arguments; return True for async callables."""
    if not callable(call):
        raise TypeError(
            f"call must be a function taking no arguments, e.g. lambda: client.get('/health'); "
            f"got {type(call).__name__}"
        )
    try:
        params = inspect.signature(call).parameters.values()
    except (TypeError, ValueError):
        params = []
    required = [
        p.name
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if required:
        raise TypeError(
            f"call must take no arguments but it needs {required}: wrap it, "
            f"e.g. lambda: {getattr(call, '__name__', 'call')}(...)"
        )
    # An object whose __call__ is `async def` counts as async too.
    method = None if inspect.isroutine(call) else type(call).__call__
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(method)


def check_duration(duration_s: float | None, name: str = "duration_s") -> float:
    """Return a run's time limit in seconds, refusing what is not positive or too long."""
    if duration_s is None:
        return MAX_DURATION_S
    if not duration_s > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {duration_s!r}")
    if duration_s > MAX_DURATION_S:
        raise ValueError(
            f"{name}={duration_s} is longer than the lab allows ({MAX_DURATION_S:.0f} s): "
            "run several shorter experiments instead"
        )
    return float(duration_s)


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """Return `value` if it is a whole number >= `minimum`, else say what was wrong."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return value


def error_name(exc: BaseException) -> str:
    """Name an error for grouping: the exception's `error_name` if it has one, else its type."""
    return getattr(exc, "error_name", None) or type(exc).__name__


class StatusError(Exception):
    """Signal that a call returned an HTTP status counted as a failure."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP status {status}")
        self.status = status
        self.error_name = f"HTTP {status}"


def read_status(reply: object) -> int | None:
    """Find an HTTP-like status in a reply: an int, `(status, body)`, or `.status_code`/`.status`."""
    if isinstance(reply, int):
        return reply
    if isinstance(reply, tuple) and reply and isinstance(reply[0], int):
        return reply[0]
    status = getattr(reply, "status_code", None) or getattr(reply, "status", None)
    return status if isinstance(status, int) else None


def status_errors(call: Callable, min_status: int = 500) -> Callable:
    """Wrap `call` so a returned status >= `min_status` counts as an error named `HTTP <code>`.

    Works for sync and async calls and for replies that are ints, `(status, body)`
    tuples (the thin client) or objects with `.status_code` (httpx).
    """
    if check_call(call):

        @functools.wraps(call)
        async def checked_async():
            reply = await call()
            if (status := read_status(reply)) is not None and status >= min_status:
                raise StatusError(status)
            return reply

        return checked_async

    @functools.wraps(call)
    def checked():
        reply = call()
        if (status := read_status(reply)) is not None and status >= min_status:
            raise StatusError(status)
        return reply

    return checked


def refuse_awaitable(reply: object) -> None:
    """Stop a run whose sync call handed back a coroutine instead of doing the work."""
    if inspect.isawaitable(reply):
        if inspect.iscoroutine(reply):
            reply.close()
        raise TypeError(
            "call returned an awaitable without awaiting it, so nothing was measured: "
            "pass an `async def` function (e.g. `async def call(): return await client.get(url)`)"
        )


class Watch:
    """Wait for a run from the caller's thread, driving a tqdm bar and `on_tick` callbacks."""

    def __init__(self, expected_s: float | None, progress: bool | None, on_tick, snapshot) -> None:
        self.on_tick, self.snapshot = on_tick, snapshot
        self.expected_s = expected_s
        # The bar appears at the first tick, so runs shorter than a tick never flash one.
        self.want_bar = progress or (progress is None and (expected_s or 0) > PROGRESS_AFTER_S)
        self.bar = None

    def wait(
        self, done: threading.Event, deadline_ns: Callable[[], int], t0_ns: Callable[[], int]
    ) -> bool:
        """Tick until `done` is set or `deadline_ns()` passes; return whether it was set.

        Both are read again on every tick, because a run's clock starts only after its
        warm-up; before that `t0_ns()` is 0 and nothing is reported.
        """
        while True:
            remaining_s = (deadline_ns() - time.perf_counter_ns()) / 1e9
            if done.wait(timeout=max(0.0, min(TICK_S, remaining_s))):
                return True
            if remaining_s <= TICK_S:
                return done.is_set()
            if t0_ns():
                self.tick(t0_ns())

    def tick(self, start_ns: int, final=None) -> None:
        """Update the bar and hand a partial (or the final) result to `on_tick`."""
        elapsed_s = max(0.0, (time.perf_counter_ns() - start_ns) / 1e9)
        if self.bar is None and self.want_bar and final is None:
            from tqdm.auto import tqdm

            total = round(self.expected_s, 1) if self.expected_s else None
            self.bar = tqdm(total=total, unit="s", leave=False, desc="measuring")
        if self.bar is not None:
            self.bar.n = min(round(elapsed_s, 1), self.bar.total or elapsed_s)
            self.bar.refresh()
        if self.on_tick is not None:
            try:
                self.on_tick(final if final is not None else self.snapshot())
            except Exception as exc:  # a broken plot callback must not break the measurement
                warnings.warn(f"on_tick raised {exc!r}; no more ticks this run", stacklevel=2)
                self.on_tick = None

    def close(self) -> None:
        if self.bar is not None:
            # A notebook bar closed short of its total turns red as if the run had failed.
            if self.bar.total:
                self.bar.n = self.bar.total
                self.bar.refresh()
            self.bar.close()
