"""Lesson 07's bench figures: events lost by the dual write and by the outbox over real kills.

`measure()` kills the orders service (a real process, SIGKILL) at every crash point of
each design, `ROUNDS` times each, crashing a different order each round, and sums the
events lost: the outbox should lose 0, the dual write loses one per kill after commit.
"""

from __future__ import annotations

from .rigs import crash_everywhere

ROUNDS = 2


def measure() -> dict[str, float]:
    """Return {outbox_lost_events, dual_write_lost_events, crash_runs} from one run."""
    runs = crash_everywhere(rounds=ROUNDS)
    return {
        "outbox_lost_events": float(sum(r.lost for r in runs if r.mode == "outbox")),
        "dual_write_lost_events": float(sum(r.lost for r in runs if r.mode == "dual_write")),
        "crash_runs": float(len(runs)),
    }
