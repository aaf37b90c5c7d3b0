"""Wait for something to become true, for a bounded time: the lab never waits forever.

    wait_until(lambda: len(consumer.done) == 40, timeout_s=10, what="all 40 orders packed")

Used wherever a lesson or a check waits for threads, services or brokers to catch up,
instead of a bare `time.sleep` that is either too short on a busy machine or wasted.
"""

from __future__ import annotations

from collections.abc import Callable

from . import _procs

__all__ = ["wait_until"]


def wait_until(
    predicate: Callable[[], bool],
    timeout_s: float,
    what: str = "the condition",
    *,
    interval_s: float = 0.02,
) -> None:
    """Poll predicate until it is true; raise TimeoutError naming `what` after timeout_s."""
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    _procs.wait_until(predicate, timeout_s=timeout_s, interval_s=interval_s, what=what)
