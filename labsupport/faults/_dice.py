"""Roll seeded dice for in-process faults; shared by the ASGI and gRPC injectors."""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple


@dataclass
class FaultStats:
    """Count requests seen and faults injected."""

    requests: int = 0
    errors_injected: int = 0
    delays_injected: int = 0


class Decision(NamedTuple):
    delay_s: float
    fail: bool


class Dice:
    """Hold knobs, a seeded RNG and counters; safe to use from several threads.

    Subclasses name their knobs dataclass (`knobs_type`) and which knob is the
    error probability (`rate_knob`). Each knobs dataclass has `delay_ms`,
    `jitter_ms` and `delay_rate` (the share of requests that get the delay).
    """

    knobs_type: ClassVar[type]
    rate_knob: ClassVar[str]

    def __init__(self, seed: int | None = 0, **knobs: Any) -> None:
        self._lock = threading.Lock()
        self.configure(seed, **knobs)

    def configure(self, seed: int | None = 0, **knobs: Any) -> None:
        """Start over: new seed, these knobs (others at defaults), counters at zero."""
        new = self._checked(self.knobs_type(), knobs)
        with self._lock:
            self._rng = random.Random(seed)
            self._knobs = new
            self._stats = FaultStats()

    def set(self, **knobs: Any) -> Any:
        """Change knobs now, e.g. `faults.set(error_rate=0.5)`; return all knobs."""
        with self._lock:
            self._knobs = self._checked(self._knobs, knobs)
            return self._knobs

    def reset(self) -> Any:
        """Put every knob back to its default (no faults); counters stay."""
        with self._lock:
            self._knobs = self.knobs_type()
            return self._knobs

    @property
    def knobs(self) -> Any:
        """Return the current settings."""
        return self._knobs

    @property
    def stats(self) -> FaultStats:
        """Return a snapshot of the counters."""
        with self._lock:
            return dataclasses.replace(self._stats)

    def decide(self) -> Decision:
        """Count one request and roll whether it is delayed and whether it fails."""
        with self._lock:
            knobs, rng, stats = self._knobs, self._rng, self._stats
            stats.requests += 1
            delay_s = 0.0
            if (knobs.delay_ms or knobs.jitter_ms) and rng.random() < knobs.delay_rate:
                jitter_ms = rng.uniform(-knobs.jitter_ms, knobs.jitter_ms)
                delay_s = max(0.0, knobs.delay_ms + jitter_ms) / 1000
                stats.delays_injected += 1
            fail = rng.random() < getattr(knobs, self.rate_knob)
            stats.errors_injected += fail
            return Decision(delay_s, fail)

    def _checked(self, knobs: Any, changes: dict[str, Any]) -> Any:
        names = [f.name for f in dataclasses.fields(knobs)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise TypeError(f"unknown knob(s) {unknown}: the knobs are {', '.join(names)}")
        for name, value in changes.items():
            if name.endswith("_rate") and not 0 <= value <= 1:
                raise ValueError(f"{name} is a probability between 0 and 1, got {value!r}")
            if name.endswith(("_ms", "_s")) and value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        return dataclasses.replace(knobs, **changes)
