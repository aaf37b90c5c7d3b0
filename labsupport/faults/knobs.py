"""Describe the chaos proxy's settings (knobs) and its counters (stats)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

DIRECTIONS = ("down", "up", "both")


@dataclass(frozen=True)
class ProxyKnobs:
    """Hold one proxy's fault settings; the defaults pass traffic through untouched.

    - `delay_ms`, `jitter_ms`: each chunk waits delay_ms plus a uniform draw in
      [-jitter_ms, +jitter_ms] (never below 0); chunks keep their order.
    - `bandwidth_kbps`: kilobits per second per connection and direction (0 = no limit).
    - `chunk_bytes`: forward writes in slices of at most this many bytes (0 = as read).
    - `direction`: which way delay, bandwidth and chunk_bytes act: "down" (upstream to
      client, so a request/response round trip grows by delay_ms), "up" or "both".
    - `reset_prob`: chance that a new connection is reset (RST) as soon as it is accepted.
    - `reset_chunk_prob`: chance that each chunk the client sends resets its connection
      instead of being forwarded: about once per request, and it also hits pooled
      connections that `reset_prob` never sees again.
    - `blackhole`: keep reading from both sides, forward nothing, answer nothing.
    - `down`: stop listening (new connections are refused) and reset open ones.
    """

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    bandwidth_kbps: float = 0.0
    chunk_bytes: int = 0
    direction: str = "down"
    reset_prob: float = 0.0
    reset_chunk_prob: float = 0.0
    blackhole: bool = False
    down: bool = False

    def shapes(self, way: str) -> bool:
        """Say whether delay, bandwidth or slicing act on traffic going `way`."""
        if self.direction != "both" and self.direction != way:
            return False
        return bool(self.delay_ms or self.jitter_ms or self.bandwidth_kbps or self.chunk_bytes)


@dataclass
class ProxyStats:
    """Count what a proxy did; `blackholed` counts connections that lost data to the hole.

    `refused` counts connections the proxy accepted but closed because the upstream
    did not accept them; refusals while `down` happen in the kernel and are not seen.
    """

    connections_total: int = 0
    connections_open: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    resets: int = 0
    refused: int = 0
    blackholed: int = 0


def update_knobs(knobs: ProxyKnobs, **changes: Any) -> ProxyKnobs:
    """Return `knobs` with `changes` applied, or raise a clear error on bad input."""
    names = [f.name for f in dataclasses.fields(ProxyKnobs)]
    unknown = sorted(set(changes) - set(names))
    if unknown:
        raise TypeError(f"unknown proxy knob(s) {unknown}: the knobs are {', '.join(names)}")
    new = dataclasses.replace(knobs, **changes)
    for name in ("delay_ms", "jitter_ms", "bandwidth_kbps", "chunk_bytes"):
        if getattr(new, name) is None or getattr(new, name) < 0:
            raise ValueError(
                f"{name} must be a number >= 0 (0 turns it off), got {changes[name]!r}"
            )
    for name in ("reset_prob", "reset_chunk_prob"):
        if not 0 <= getattr(new, name) <= 1:
            raise ValueError(f"{name} is a probability between 0 and 1, got {changes[name]!r}")
    if new.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {new.direction!r}")
    return dataclasses.replace(new, chunk_bytes=int(new.chunk_bytes))


def describe_knobs(knobs: ProxyKnobs) -> str:
    """Sum up the active knobs in a few words, for the proxy's repr."""
    parts = []
    if knobs.down:
        parts.append("down")
    if knobs.blackhole:
        parts.append("blackhole")
    if knobs.delay_ms or knobs.jitter_ms:
        jitter = f"±{knobs.jitter_ms:g}" if knobs.jitter_ms else ""
        parts.append(f"delay {knobs.delay_ms:g}{jitter} ms")
    if knobs.bandwidth_kbps:
        parts.append(f"{knobs.bandwidth_kbps:g} kbps")
    if knobs.chunk_bytes:
        parts.append(f"chunks of {knobs.chunk_bytes} B")
    if knobs.reset_prob:
        parts.append(f"reset {knobs.reset_prob:.0%} of connections")
    if knobs.reset_chunk_prob:
        parts.append(f"reset {knobs.reset_chunk_prob:.0%} of client chunks")
    shaped = knobs.delay_ms or knobs.jitter_ms or knobs.bandwidth_kbps or knobs.chunk_bytes
    if shaped and knobs.direction != "down":
        parts.append(f"direction {knobs.direction}")
    return ", ".join(parts) or "pass-through"
