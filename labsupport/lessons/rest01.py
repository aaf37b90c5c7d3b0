"""Lesson 01, REST with FastAPI: the shop's services, what the experiments need, the checks.

The notebooks import from here:

    from labsupport.lessons.rest01 import make_users_app, make_orders_app, make_payments_app
    from labsupport.lessons.rest01 import check_retry_get, check_circuit_breaker, check_gateway

- `rest01_shop`: the shop's FastAPI apps (orders, inventory, users, payments);
- `rest01_tools`: `CallLog` (every request a service saw, and when) and `StateLog`
  (a circuit breaker's states on a run's clock);
- `rest01_charts`: the lesson's own charts (chain growth, arrivals, call spans, breakers);
- `rest01_fixtures`: the live services the checks run learners' code against;
- `rest01_retry_check`, `rest01_breaker_check`, `rest01_gateway_check`: the three graded tasks.
"""

from __future__ import annotations

from .rest01_breaker_check import check_circuit_breaker
from .rest01_charts import (
    draw_chain,
    plot_arrivals,
    plot_breaker_run,
    plot_call_spans,
)
from .rest01_fixtures import CircuitOpenError
from .rest01_gateway_check import check_gateway
from .rest01_retry_check import check_retry_get
from .rest01_shop import (
    OrderIn,
    answer_bad_bytes_with_422,
    make_inventory_app,
    make_orders_app,
    make_payments_app,
    make_users_app,
)
from .rest01_tools import CallLog, StateLog, most_within, run_together

__all__ = [
    "CallLog",
    "CircuitOpenError",
    "OrderIn",
    "StateLog",
    "answer_bad_bytes_with_422",
    "check_circuit_breaker",
    "check_gateway",
    "check_retry_get",
    "draw_chain",
    "make_inventory_app",
    "make_orders_app",
    "make_payments_app",
    "make_users_app",
    "plot_arrivals",
    "plot_breaker_run",
    "most_within",
    "plot_call_spans",
    "run_together",
]
