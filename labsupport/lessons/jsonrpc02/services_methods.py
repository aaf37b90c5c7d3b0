"""The methods lesson 02's JSON-RPC server offers: the spec's section 7 examples, and a few more.

From the specification: `subtract(minuend, subtrahend)`, `sum(*numbers)`, `get_data()`, and
`update`, `notify_hello`, `notify_sum`, which the examples only ever send as notifications.
The lesson adds `work(ms)` (a job that takes time), `price(sku)` (a read, for caching),
`reserve(sku, qty)` (fails with a server-defined error code) and `crash()` (a bug).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

OUT_OF_STOCK = -32001  # the -32000..-32099 range is the server's own
STOCK = {"mug-blue": 3, "tea-sencha": 10}
WORK_CAP_MS = 1000  # a call cannot make the server sleep for longer


class RpcError(Exception):
    """Raise in a method to answer with this JSON-RPC error code, message and data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code} {message}")
        self.code, self.message, self.data = code, message, data


def make_spec_methods(
    noted: list | None = None, calls: dict[str, int] | None = None, *, with_work: bool = True
) -> dict[str, Callable]:
    """Return {name: function} for the server; notifications append (name, args) to noted.

    `calls` counts how often each plain method ran; with_work=False leaves out `work`,
    the one `async def` method, for dispatchers that only call plain functions.
    """
    noted = [] if noted is None else noted
    calls = {} if calls is None else calls

    def counted(fn: Callable) -> Callable:
        calls.setdefault(fn.__name__, 0)

        @functools.wraps(fn)  # keeps fn's signature, so params are checked against fn's
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[fn.__name__] += 1
            return fn(*args, **kwargs)

        return wrapper

    def subtract(minuend, subtrahend):
        return minuend - subtrahend

    def sum(*numbers):  # noqa: A001 - the specification's own method name
        total = 0
        for n in numbers:
            total += n
        return total

    def get_data():
        return ["hello", 5]

    def update(*args):
        noted.append(("update", list(args)))

    def notify_hello(*args):
        noted.append(("notify_hello", list(args)))

    def notify_sum(*args):
        noted.append(("notify_sum", list(args)))

    async def work(ms):
        await asyncio.sleep(min(float(ms), WORK_CAP_MS) / 1000)
        noted.append(("work", [ms]))
        return "done"

    def price(sku):
        return {"sku": sku, "price_cents": 100 + len(str(sku))}

    def reserve(sku, qty):
        if STOCK.get(sku, 0) < qty:
            raise RpcError(OUT_OF_STOCK, "Out of stock", {"sku": sku, "left": STOCK.get(sku, 0)})
        return {"sku": sku, "reserved": qty}

    def crash():
        return 1 / 0  # a bug in the method: the caller should see -32603, not a traceback

    plain = [subtract, sum, get_data, update, notify_hello, notify_sum, price, reserve, crash]
    methods = {fn.__name__: counted(fn) for fn in plain}
    if with_work:
        methods["work"] = work
    return methods
