"""A fast sender and a slow receiver: how much the sender holds, and how fast it gets rid of it.

`run_flow(target, send, ...)` runs a producer that makes `chunk_bytes` chunks at
`offered_mb_per_s`, puts each into an asyncio.Queue (bounded by `queue_max`; 0 means
unbounded), and a connection task that takes them out and calls your
`await send(writer, chunk)`. It runs on a loop in a thread of its own and samples,
every 50 ms: bytes held by the sender (queue + the transport's write buffer), the
kernel process's RSS, bytes produced and `receiver.received` (a `SlowReader`). At the end the
connection is aborted, so megabytes still buffered are dropped at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

MB = 1024 * 1024
Send = Callable[[asyncio.StreamWriter, bytes], Awaitable[None] | None]


@dataclass
class FlowRun:
    """Samples of one run: time, MB held by the sender, RSS MB, MB produced, MB received."""

    label: str
    t_s: list[float] = field(default_factory=list)
    held_mb: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    produced_mb: list[float] = field(default_factory=list)
    received_mb: list[float] = field(default_factory=list)
    producer_blocked_s: float = 0.0

    @property
    def peak_held_mb(self) -> float:
        return max(self.held_mb, default=0.0)

    def rate_mb_per_s(self, series: str) -> float:
        """Return the average rate of `produced_mb` or `received_mb` over the run."""
        values = getattr(self, series)
        return values[-1] / self.t_s[-1] if self.t_s and self.t_s[-1] > 0 else 0.0

    def summary(self) -> dict:
        return {"peak held (MB)": round(self.peak_held_mb, 1),
                "RSS growth (MB)": round(max(self.rss_mb) - self.rss_mb[0], 1),
                "produced (MB/s)": round(self.rate_mb_per_s("produced_mb"), 1),
                "received (MB/s)": round(self.rate_mb_per_s("received_mb"), 1),
                "producer blocked (s)": round(self.producer_blocked_s, 2)}  # fmt: skip


class _Sender:
    def __init__(self, send: Send, chunk_bytes: int, offered_mb_per_s: float, queue_max: int):
        self.send, self.chunk = send, b"x" * chunk_bytes
        self.every_s = chunk_bytes / (offered_mb_per_s * MB)
        self.queue_max = queue_max
        self.produced = self.queued = 0
        self.blocked_s = 0.0
        self.writer: asyncio.StreamWriter | None = None
        self.stop = threading.Event()
        self.ready = threading.Event()

    def held(self) -> int:
        transport = self.writer.transport if self.writer else None
        buffered = (
            transport.get_write_buffer_size() if transport and not transport.is_closing() else 0
        )
        return self.queued + buffered

    async def main(self, host: str, port: int) -> None:
        reader, self.writer = await asyncio.open_connection(host, port)
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=self.queue_max)
        pump = asyncio.create_task(self._pump(queue))
        self.ready.set()
        start = time.monotonic()
        while not self.stop.is_set():
            due = int((time.monotonic() - start) / self.every_s) - self.produced // len(self.chunk)
            for _ in range(max(0, due)):
                if self.stop.is_set():
                    break
                t = time.monotonic()
                await queue.put(self.chunk)  # waits while a bounded queue is full
                self.blocked_s += time.monotonic() - t
                self.produced += len(self.chunk)
                self.queued += len(self.chunk)
            await asyncio.sleep(0.005)
        pump.cancel()
        self.writer.transport.abort()  # drop what is still buffered, at once

    async def _pump(self, queue: asyncio.Queue) -> None:
        while True:
            chunk = await queue.get()
            self.queued -= len(chunk)
            result = self.send(self.writer, chunk)
            if result is not None:
                await result


def run_flow(
    target: str, send: Send, *, label: str, duration_s: float = 2.0,
    offered_mb_per_s: float = 40.0, chunk_bytes: int = 64 * 1024, queue_max: int = 0,
    receiver: Any = None, on_tick: Callable[[FlowRun], None] | None = None,
) -> FlowRun:  # fmt: skip
    """Run the producer against the receiver at target ("host:port") for duration_s; sample it."""
    host, port = target.rsplit(":", 1)
    sender = _Sender(send, chunk_bytes, offered_mb_per_s, queue_max)
    thread = threading.Thread(target=asyncio.run, args=(sender.main(host, int(port)),),
                              daemon=True, name=f"flow-{label}")  # fmt: skip
    run = FlowRun(label)
    thread.start()
    sender.ready.wait(10)
    sampler = threading.Thread(target=_sample, args=(run, sender, receiver, duration_s),
                               daemon=True, name=f"flow-{label}-sampler")  # fmt: skip
    sampler.start()
    while sampler.is_alive():  # drawing happens here, so it never delays a sample
        if on_tick:
            on_tick(run)
        sampler.join(0.25)
    sender.stop.set()
    thread.join(10)
    run.producer_blocked_s = sender.blocked_s
    return run


def _sample(run: FlowRun, sender: _Sender, receiver: Any, duration_s: float) -> None:
    process = psutil.Process()

    def received() -> int:
        return receiver.received if receiver is not None else 0

    got_before, start = received(), time.monotonic()
    while (now := time.monotonic() - start) <= duration_s:
        held, rss = sender.held() / MB, process.memory_info().rss / MB
        produced, got = sender.produced / MB, (received() - got_before) / MB
        # appended together, after every value is read, so readers see equal lengths
        run.t_s.append(now)
        run.held_mb.append(held)
        run.rss_mb.append(rss)
        run.produced_mb.append(produced)
        run.received_mb.append(got)
        time.sleep(0.05)
