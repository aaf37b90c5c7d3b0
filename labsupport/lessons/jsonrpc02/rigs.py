"""Time lesson 02's JSON-RPC server with a thin HTTP client: batch sizes, notifications, batch modes.

The notebook teaches with httpx; these drivers measure with `ThinHttpClient`, so the
numbers are the server's and the wire's, not an HTTP library's (RUNTIME-NOTES).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from labsupport.thinhttp import ThinHttpClient
from labsupport.waiting import wait_until

RPC_HEADERS = {"Content-Type": "application/json"}
BATCH_SIZES = (1, 2, 5, 10, 20, 50, 100)


def rpc_request(method: str, params: Any = None, request_id: Any = 1) -> dict:
    """Build a JSON-RPC 2.0 request object (no params member when params is None)."""
    return {"jsonrpc": "2.0", "method": method, "id": request_id} | (
        {} if params is None else {"params": params}
    )


def batch_body(size: int, method: str = "subtract", params: Any = (42, 23)) -> bytes:
    """Encode a batch of `size` calls of method, ids 0..size-1."""
    return json.dumps([rpc_request(method, list(params), i) for i in range(size)]).encode()


def post_seconds(thin: ThinHttpClient, body: bytes, path: str = "/rpc") -> float:
    """POST body and return how long the reply took, in seconds (fails on anything but 200)."""
    started = time.perf_counter()
    status, reply = thin.request("POST", path, body, RPC_HEADERS)
    elapsed = time.perf_counter() - started
    if status != 200 or not reply:
        raise RuntimeError(f"POST {path} answered {status} {reply[:80]!r}")
    return elapsed


def time_batch_sizes(
    url: str,
    sizes: Sequence[int] = BATCH_SIZES,
    *,
    posts: int = 40,
    on_tick: Callable[[list[dict]], Any] | None = None,
) -> list[dict]:
    """Time `posts` batches of each size; return rows with batch_ms and per_call_us (medians).

    Row 0 is a single call sent as a plain object, not as a batch: the baseline. The sizes
    take turns in a shuffled order, one post each per round, so a busy moment of the
    machine hits them all alike; on_tick gets the medians so far every 10 rounds.
    """
    single = json.dumps(rpc_request("subtract", [42, 23])).encode()
    kinds = [("single", 1, single)] + [(f"batch of {n}", n, batch_body(n)) for n in sizes]
    seconds: list[list[float]] = [[] for _ in kinds]
    with ThinHttpClient(url) as thin:
        for _, _, body in kinds:  # warm up the connection and the server's code paths
            for _ in range(3):
                post_seconds(thin, body)
        turns = random.Random(2)  # seeded: the same order on every run
        for done in range(1, posts + 1):
            for k in turns.sample(range(len(kinds)), len(kinds)):  # no size always follows another
                seconds[k].append(post_seconds(thin, kinds[k][2]))
            if on_tick is not None and (done % 10 == 0 or done == posts):
                on_tick(_batch_rows(kinds, seconds))
    return _batch_rows(kinds, seconds)


def _batch_rows(kinds: list[tuple[str, int, bytes]], seconds: list[list[float]]) -> list[dict]:
    rows = []
    for (label, size, _), times in zip(kinds, seconds, strict=True):
        median_s = statistics.median(times)
        rows.append({"sent as": label, "calls": size, "posts": len(times),
                     "batch_ms": median_s * 1000, "per_call_us": median_s / size * 1e6})  # fmt: skip
    return rows


def ratio_batch_to_single(url: str, size: int = 10, rounds: int = 200) -> dict[str, float]:
    """Per-call time inside a batch of `size` over a single call, posts interleaved (medians)."""
    single = json.dumps(rpc_request("subtract", [42, 23])).encode()
    batch = batch_body(size)
    singles, batches = [], []
    with ThinHttpClient(url) as thin:
        for _ in range(10):
            post_seconds(thin, single), post_seconds(thin, batch)
        for _ in range(rounds):  # interleaved, so both sides see the same machine
            singles.append(post_seconds(thin, single))
            batches.append(post_seconds(thin, batch))
    single_us = statistics.median(singles) * 1e6
    per_call_us = statistics.median(batches) * 1e6 / size
    return {"single_us": single_us, "per_call_us": per_call_us, "ratio": per_call_us / single_us}


def time_notification(url: str, noted: list, work_ms: float = 200) -> dict[str, float]:
    """Send a `work` notification; return when its reply came and when its work was done (ms)."""
    body = json.dumps({"jsonrpc": "2.0", "method": "work", "params": [work_ms]}).encode()
    before = len(noted)
    with ThinHttpClient(url) as thin:
        post_seconds(thin, json.dumps(rpc_request("get_data")).encode())  # connect first
        started = time.perf_counter()
        status, reply = thin.request("POST", "/rpc", body, RPC_HEADERS)
        replied_s = time.perf_counter() - started
        if status != 204 or reply:
            raise RuntimeError(f"a notification was answered {status} {reply[:80]!r}")
        wait_until(lambda: len(noted) > before, 5 + work_ms / 1000, "the notification's work",
                   interval_s=0.001)  # fmt: skip
        done_s = time.perf_counter() - started
    return {"reply_ms": replied_s * 1000, "work_done_ms": done_s * 1000, "work_ms": work_ms}


def time_batch_of_work(url: str, calls: int = 10, work_ms: float = 50) -> float:
    """Time one batch of `calls` work(work_ms) requests; return milliseconds."""
    with ThinHttpClient(url) as thin:
        return post_seconds(thin, batch_body(calls, "work", [work_ms])) * 1000
