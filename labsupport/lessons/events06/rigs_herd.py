"""The load a thin event sends back: every consumer calling the orders service at once."""

from __future__ import annotations

from dataclasses import dataclass

from labsupport.observe import most_within

from .rigs import EventLab


@dataclass
class Herd:
    """Calls that reached the orders service after a burst of thin events."""

    label: str
    consumers: int
    events: int
    arrivals_ms: list[float]  # each call's arrival, ms after the first event was published
    waits_ms: list[float]  # publish -> consumer had the order

    @property
    def calls(self) -> int:
        return len(self.arrivals_ms)

    def peak(self, window_ms: float = 10.0) -> int:
        """Return the most calls that arrived within any window of window_ms."""
        return most_within(sorted(self.arrivals_ms), window_ms)


def run_herd(rabbit, consumers: int = 12, events: int = 4, jitter_s: float = 0.0,
             label: str = "") -> Herd:  # fmt: skip
    """Publish `events` thin events that all `consumers` need; note when the calls arrive."""
    names = [f"consumer-{n:02d}" for n in range(consumers)]
    with EventLab(rabbit, names, jitter_s=jitter_s) as lab:
        result = lab.run("thin", 1.0, events=events)
        first_s = min(lab.sent_s[o["order_id"]] for o in lab.last)
        arrivals = [1000 * (t - first_s) for t in lab.log.times_s()]
    label = label or (f"jitter 0-{jitter_s * 1000:.0f} ms" if jitter_s else "no jitter")
    return Herd(label, consumers, events, arrivals, result.waits_ms)
