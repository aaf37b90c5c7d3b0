"""Drive lesson 01's experiments: many clients released at one instant (a retry storm)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def run_together(fn: Callable[[], Any], copies: int, timeout_s: float = 10.0) -> int:
    """Run fn in `copies` threads released at the same instant; return how many finished in time.

    First used in lesson 01, where many clients fail at one moment and retry.
    """
    gate = threading.Barrier(copies)

    def released() -> None:
        gate.wait(timeout_s)
        fn()

    threads = [threading.Thread(target=released, daemon=True) for _ in range(copies)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(not t.is_alive() for t in threads)
