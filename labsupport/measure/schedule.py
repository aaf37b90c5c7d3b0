"""Plan an open loop's send times, and judge afterwards whether the sender kept up."""

from __future__ import annotations

import math

import numpy as np

from labsupport.measure._common import MAX_REQUESTS
from labsupport.measure.records import nearest_rank
from labsupport.measure.result import LoadResult

# time.sleep overshoots by tens of microseconds, so the pacer sleeps until this close
# to each send and then spins, yielding the GIL on every turn.
SPIN_NS = 200_000


def make_schedule(rate_per_s: float, duration_s: float, arrival: str, seed: int = 0) -> list[int]:
    """Return intended send times in ns from the run's start, all before `duration_s`."""
    count = math.ceil(rate_per_s * duration_s - 1e-9)
    if count > MAX_REQUESTS:
        raise ValueError(
            f"{rate_per_s}/s for {duration_s} s is {count} requests, more than the lab allows "
            f"({MAX_REQUESTS}): lower the rate or the duration"
        )
    if arrival == "constant":
        times = np.arange(count) / rate_per_s
    else:
        rng = np.random.default_rng(seed)
        # Draw generously, then keep the arrivals that fall inside the run.
        gaps = rng.exponential(1.0 / rate_per_s, size=int(count * 1.5) + 50)
        times = np.concatenate(([0.0], np.cumsum(gaps)))
        times = times[times < duration_s]
    return (times * 1e9).astype(np.int64).tolist()


def judge_lateness(result: LoadResult, dispatched_ns, offsets_ns, t0_ns: int, workers: int) -> None:
    """Mark `result` when sends started late enough to change the load the service saw.

    Lateness over 2 ms (or a quarter of the gap between sends) at p99 counts as falling
    behind; the note says whether the pacing thread or busy workers caused it.
    """
    n, rate = len(result.records), result.offered_rate_per_s
    late_ms = np.sort(result.records.lateness_s) * 1000.0
    pacer_ms = np.sort(np.asarray(dispatched_ns[:n]) - t0_ns - np.asarray(offsets_ns[:n])) / 1e6
    limit_ms = max(2.0, 250.0 / rate)
    p99, pacer_p99 = nearest_rank(late_ms, 99), nearest_rank(pacer_ms, 99)
    if n < len(offsets_ns):
        result.generator_behind = True
        result.notes.append(f"WARNING: only {n} of {len(offsets_ns)} scheduled requests were sent")
    if n and p99 > limit_ms:
        result.generator_behind = True
        cause = (
            f"all {workers} workers were often busy: pass more workers or a lower rate"
            if pacer_p99 < p99 / 2
            else "the pacing thread itself was late: the CPU is busy, "
            "or a server in this process holds the GIL"
        )
        result.notes.append(
            f"WARNING: the generator fell behind (p99 send lateness {p99:.2f} ms, "
            f"pacing thread {pacer_p99:.2f} ms): {cause}. Latency still counts from the "
            "intended send times, but the service saw a burstier load than asked."
        )
