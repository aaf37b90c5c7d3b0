"""A heartbeat monitor: peers send a line now and then; the monitor says who is gone and why.

The first line a peer sends is its name; every line after it is a heartbeat. A sweep
every 10 ms suspects each peer not heard from for `timeout_s`; a closed connection is
noticed the moment its EOF (or reset) arrives. Serve it with `serve_tcp(monitor.handle)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field


@dataclass
class HeartbeatMonitor:
    """Track peers' heartbeats; record when each was noticed as closed or suspected silent."""

    timeout_s: float = 0.5
    last_heard: dict[str, float] = field(default_factory=dict)
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    noticed: dict[str, tuple[str, float]] = field(default_factory=dict)  # name: (why, when)
    _sweeper: asyncio.Task | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one peer: its name, then heartbeats until EOF or reset."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())
        name = (await reader.readline()).decode().strip() or "anonymous"
        self.noticed.pop(name, None)
        self._heard(name)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while await reader.readline():
                self._heard(name)
        self.noticed.setdefault(name, ("closed", time.monotonic()))
        writer.close()

    def _heard(self, name: str) -> None:
        now = time.monotonic()
        self.last_heard[name] = now
        self.arrivals.setdefault(name, []).append(now)

    async def _sweep(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                now = time.monotonic()
                for name, last in list(self.last_heard.items()):
                    if name not in self.noticed and now - last > self.timeout_s:
                        self.noticed[name] = ("silent", now)
                await asyncio.sleep(0.01)

    def gaps_s(self, name: str) -> list[float]:
        """Return the seconds between consecutive heartbeats from one peer."""
        times = self.arrivals.get(name, [])
        return [b - a for a, b in zip(times, times[1:], strict=False)]
