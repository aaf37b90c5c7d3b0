"""Lesson 07's bench figures: events lost by the dual write and by the outbox over real kills.

`measure()` kills the orders service (a real process, SIGKILL) at every crash point of
each design, `ROUNDS` times each, crashing a different order each round, and sums the
events lost: the outbox should lose 0, the dual write loses one per kill after commit.
It then runs REST and the work queue through a short version of section 5's fault
scenario, three times, and reports by how many percentage points the queue beats REST on
orders sent during the outage (median of 3; about 100 expected: 100% delivered vs 0%).
"""

from __future__ import annotations

import statistics

from labsupport import ensure_rabbitmq

from .rigs import crash_everywhere
from .rigs_compare import FaultScenario, run_pattern
from .services_compare import queue_pattern, rest_pattern

ROUNDS = 2
OUTAGE = FaultScenario(run_s=1.5, outage_s=(0.5, 1.0))


def queue_over_rest_outage_points(repeats: int = 3) -> float:
    """Return the median, over `repeats` runs, of queue minus REST success during the outage."""
    url, knobs = ensure_rabbitmq().url, (OUTAGE.delay_ms, OUTAGE.error_rate, OUTAGE.seed)
    gaps = []
    for _ in range(repeats):
        rest = run_pattern(rest_pattern(*knobs), OUTAGE)
        queue = run_pattern(queue_pattern(url, *knobs), OUTAGE)
        gaps.append(queue["ok in outage %"] - rest["ok in outage %"])
    return statistics.median(gaps)


def measure() -> dict[str, float]:
    """Return lost events per design, crash runs and the queue's outage lead, from one run."""
    runs = crash_everywhere(rounds=ROUNDS, progress=False)
    return {
        "outbox_lost_events": float(sum(r.lost for r in runs if r.mode == "outbox")),
        "dual_write_lost_events": float(sum(r.lost for r in runs if r.mode == "dual_write")),
        "crash_runs": float(len(runs)),
        "queue_over_rest_outage_success_points": float(queue_over_rest_outage_points()),
    }
