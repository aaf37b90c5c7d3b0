"""Lesson 07, section 4: drive the five patterns through one fault scenario, one after another.

Each pattern gets the same timeline: one caller sends orders back to back for `run_s`
seconds, the downstream goes down from `outage_s[0]` to `outage_s[1]`, then comes back.
The rows say what the caller waited for, how long (p50/p99 of successful calls), how
many operations per second it completed while the downstream was up, and how many of
the orders sent during the outage succeeded (for a queue: were delivered in the end).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from labsupport.waiting import wait_until

from .services_compare import (
    Pattern,
    event_pattern,
    grpc_pattern,
    jsonrpc_pattern,
    queue_pattern,
    rest_pattern,
)


@dataclass(frozen=True)
class FaultScenario:
    """The one scenario every pattern meets: added latency, an error rate, an outage."""

    delay_ms: float = 5.0  # FaultyProxy(delay_ms=...) in front of each downstream
    error_rate: float = 0.10  # add_faults / GrpcFaultInterceptor / the consumer's dice
    outage_s: tuple[float, float] = (0.8, 1.6)  # downstream down between these seconds
    run_s: float = 2.4  # how long the caller sends, per pattern
    seed: int = 7
    pause_after_failure_ms: float = 5.0  # a failed call is not retried; the next order waits this
    drain_s: float = 10.0  # how long to wait for queued messages once the consumer is back


@dataclass
class Attempt:
    at_s: float  # when the call started, from the start of the run
    wait_ms: float  # how long the caller waited
    ok: bool
    message_id: str


def drive(pattern: Pattern, scenario: FaultScenario) -> tuple[float, list[Attempt]]:
    """Send orders back to back for `run_s`; a timer thread takes the downstream down and up.

    Return the start (a `perf_counter` reading, the consumer's clock too) and the attempts.
    """
    start = time.perf_counter()
    down_at, up_at = scenario.outage_s

    def outage() -> None:
        time.sleep(down_at)  # a schedule, not a wait for a condition
        pattern.down()
        time.sleep(max(0.0, up_at - (time.perf_counter() - start)))
        pattern.up()

    timer = threading.Thread(target=outage, name="outage", daemon=True)
    timer.start()
    attempts, i = [], 0
    prefix = "queue" if pattern.name == "work queue" else "event"
    while (sent := time.perf_counter()) - start < scenario.run_s:
        try:
            ok = bool(pattern.call(i))
        except Exception:  # refused, reset, 503, UNAVAILABLE: the order failed
            ok = False
        waited = time.perf_counter() - sent
        attempts.append(Attempt(sent - start, waited * 1000, ok, f"{prefix}-{i}"))
        if not ok:
            time.sleep(scenario.pause_after_failure_ms / 1000)
        i += 1
    timer.join()
    return start, attempts


def summarize(pattern: Pattern, attempts: list[Attempt], scenario: FaultScenario,
              start: float) -> dict:  # fmt: skip
    """Turn one pattern's attempts (and its consumer's finish times) into a table row."""
    down_at, up_at = scenario.outage_s
    during = [a for a in attempts if down_at <= a.at_s < up_at]
    outside = [a for a in attempts if not down_at <= a.at_s < up_at]
    waits = np.array([a.wait_ms for a in attempts if a.ok]) if attempts else np.array([])
    up_time = scenario.run_s - (up_at - down_at)
    row = {
        "pattern": pattern.name,
        "caller waits for": pattern.waits_for,
        "p50 ms": round(float(np.percentile(waits, 50)), 2) if waits.size else None,
        "p99 ms": round(float(np.percentile(waits, 99)), 2) if waits.size else None,
        "ops/s (up)": round(sum(a.ok for a in outside) * pattern.ops_per_call / up_time),
        "sent in outage": len(during),
        "ok in outage %": None,
    }
    row.update(dict.fromkeys(("accepted", "delivered", "done p50 ms", "done p99 ms")))
    if pattern.done is None:
        row["ok in outage %"] = _percent(sum(a.ok for a in during), len(during))
    else:
        accepted = [a for a in attempts if a.ok]
        finished = [pattern.done[a.message_id] - start - a.at_s
                    for a in accepted if a.message_id in pattern.done]  # fmt: skip
        delivered = sum(a.message_id in pattern.done for a in during if a.ok)
        row["ok in outage %"] = _percent(delivered, len(during))
        row["accepted"], row["delivered"] = len(accepted), len(finished)
        if finished:
            row["done p50 ms"] = round(float(np.percentile(finished, 50)) * 1000, 1)
            row["done p99 ms"] = round(float(np.percentile(finished, 99)) * 1000, 1)
    row["coupled to"] = pattern.coupled_to
    return row


def _percent(part: int, whole: int) -> float | int:
    share = round(100 * part / max(1, whole), 1)
    return int(share) if share.is_integer() else share  # 0 and 100 read better than 0.000


def run_pattern(pattern: Pattern, scenario: FaultScenario) -> dict:
    """Drive one pattern, wait for its consumer to catch up, tear it down, return its row."""
    try:
        start, attempts = drive(pattern, scenario)
        if pattern.done is not None:
            wanted = {a.message_id for a in attempts if a.ok}
            try:
                wait_until(lambda: wanted <= pattern.done.keys(), scenario.drain_s, "the drain")
            except TimeoutError:
                pass  # whatever is missing is counted as lost in the row
        return summarize(pattern, attempts, scenario, start)
    finally:
        pattern.close()


def compare_patterns(rabbit_url: str, scenario: FaultScenario | None = None) -> list[dict]:
    """Run REST, JSON-RPC batch, gRPC, a work queue and a thin event through one scenario."""
    scenario = scenario or FaultScenario()
    knobs = (scenario.delay_ms, scenario.error_rate, scenario.seed)
    builders = [
        lambda: rest_pattern(*knobs),
        lambda: jsonrpc_pattern(*knobs),
        lambda: grpc_pattern(*knobs),
        lambda: queue_pattern(rabbit_url, *knobs),
        lambda: event_pattern(rabbit_url, *knobs),
    ]
    return [run_pattern(build(), scenario) for build in builders]
