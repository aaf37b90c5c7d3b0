"""Lesson 01, REST with FastAPI: what its notebooks import beyond the toolkit.

    from labsupport.lessons.rest01 import check_retry_get, check_circuit_breaker, check_gateway

The shop's services come from `labsupport.shop`, call logs from `labsupport.observe`.

- `rigs`: `run_together`, many clients released at one instant (the retry storm);
- `charts`: the lesson's own charts (chain growth, arrivals, call spans, breakers);
- `_fixtures`: the live services the checks run learners' code against;
- `checks_retry`, `checks_breaker`, `checks_gateway`: the three graded tasks.
"""

from __future__ import annotations

from ._fixtures import CircuitOpenError
from .charts import draw_chain, plot_arrivals, plot_breaker_run, plot_call_spans
from .checks_breaker import check_circuit_breaker
from .checks_gateway import check_gateway
from .checks_retry import check_retry_get
from .rigs import run_together

__all__ = [
    "CircuitOpenError",
    "check_circuit_breaker",
    "check_gateway",
    "check_retry_get",
    "draw_chain",
    "plot_arrivals",
    "plot_breaker_run",
    "plot_call_spans",
    "run_together",
]
