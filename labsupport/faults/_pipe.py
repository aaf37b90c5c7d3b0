"""Forward one proxied connection both ways, applying the knobs chunk by chunk.

Each direction reads as fast as data comes. With no shaping knob active the chunk is
written at once (the hot path). Otherwise it joins a queue stamped with its arrival
time, and a sender task releases it when its delay is over: latency then behaves like
a long pipe (chunks overlap in flight) instead of stalling the reader, and order is
kept because one task sends the queue in order.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections import deque

from .knobs import ProxyKnobs, ProxyStats

READ_BYTES = 65536
# Stop reading a side whose delayed data piles up beyond this; TCP then pushes back.
QUEUE_LIMIT_BYTES = 1 << 20
# Bandwidth pacing releases slices of about this long, so the rate is smooth.
PACING_SLICE_S = 0.02


class Link:
    """Hold what all connections of one proxy share: knobs, dice, counters."""

    def __init__(self, knobs: ProxyKnobs, seed: int | None) -> None:
        self.knobs = knobs
        self.rng = random.Random(seed)
        self.stats = ProxyStats()
        self.connections: set[Connection] = set()
        self._changed: asyncio.Future[None] | None = None

    def notify_changed(self) -> None:
        """Wake every sender waiting on a delay (call on the loop thread)."""
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = None

    async def wait_changed(self, timeout_s: float) -> None:
        """Sleep up to `timeout_s`, returning early when a knob changes."""
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        await asyncio.wait([self._changed], timeout=timeout_s)


def set_nodelay(writer: asyncio.StreamWriter) -> None:
    """Turn off Nagle on a leg: small writes must leave at once."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def reset_writer(writer: asyncio.StreamWriter) -> None:
    """Close a leg with an RST (SO_LINGER 0) so the peer sees ECONNRESET."""
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:  # already closed by the peer
        pass
    writer.transport.abort()


class _Lane:
    """Queue one direction's delayed chunks, each with its arrival time."""

    def __init__(self) -> None:
        self.items: deque[tuple[float, bytes | None]] = deque()
        self.queued_bytes = 0
        self.ready = asyncio.Event()
        self.roomy = asyncio.Event()
        self.roomy.set()
        self.sender: asyncio.Task[None] | None = None
        self.busy = False  # the sender holds a chunk it has not finished writing
        self.next_free_s = 0.0

    def push(self, arrival_s: float, data: bytes | None) -> None:
        self.items.append((arrival_s, data))
        self.queued_bytes += len(data or b"")
        if self.queued_bytes > QUEUE_LIMIT_BYTES:
            self.roomy.clear()
        self.ready.set()

    async def pop(self) -> tuple[float, bytes | None]:
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        arrival_s, data = self.items.popleft()
        self.queued_bytes -= len(data or b"")
        if self.queued_bytes <= QUEUE_LIMIT_BYTES:
            self.roomy.set()
        return arrival_s, data


class Connection:
    """Pump bytes between a client and the upstream until either side ends."""

    def __init__(self, link: Link, client: tuple, upstream: tuple) -> None:
        self.link = link
        self.client_reader, self.client_writer = client
        self.up_reader, self.up_writer = upstream
        self.swallowed = False

    async def run(self) -> None:
        """Forward both ways; an error on one side resets the other."""
        pumps = [
            asyncio.create_task(self._pump("up", self.client_reader, self.up_writer)),
            asyncio.create_task(self._pump("down", self.up_reader, self.client_writer)),
        ]
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
            if any(not t.cancelled() and t.exception() for t in done):
                self.abort()
            await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            for pump in pumps:
                pump.cancel()
            for writer in (self.client_writer, self.up_writer):
                writer.close()

    def abort(self) -> None:
        """Reset both legs at once."""
        reset_writer(self.client_writer)
        reset_writer(self.up_writer)

    def _swallow(self) -> None:
        if not self.swallowed:
            self.swallowed = True
            self.link.stats.blackholed += 1

    def _count(self, way: str, nbytes: int) -> None:
        if way == "up":
            self.link.stats.bytes_up += nbytes
        else:
            self.link.stats.bytes_down += nbytes

    async def _pump(self, way: str, reader: asyncio.StreamReader, writer) -> None:
        link, lane = self.link, _Lane()
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(READ_BYTES):
                knobs = link.knobs
                if way == "up" and knobs.reset_chunk_prob:
                    if link.rng.random() < knobs.reset_chunk_prob:
                        link.stats.resets += 1
                        self.abort()
                        return
                if knobs.blackhole:
                    self._swallow()
                elif not lane.busy and not lane.items and not knobs.shapes(way):
                    writer.write(data)
                    self._count(way, len(data))
                    await writer.drain()
                else:
                    if lane.sender is None:
                        lane.sender = asyncio.create_task(self._send_queued(way, lane, writer))
                        lane.sender.add_done_callback(self._on_sender_done(lane))
                    lane.push(loop.time(), data)
                    await lane.roomy.wait()
            if lane.sender is not None:
                lane.push(loop.time(), None)
                await lane.sender
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
        finally:
            if lane.sender is not None:
                lane.sender.cancel()

    def _on_sender_done(self, lane: _Lane):
        def check(task: asyncio.Task) -> None:
            if not task.cancelled() and task.exception() is not None:
                lane.roomy.set()  # unblock the reader so it sees the end
                self.abort()

        return check

    async def _send_queued(self, way: str, lane: _Lane, writer) -> None:
        link, loop = self.link, asyncio.get_running_loop()
        while True:
            lane.busy = False
            arrival_s, data = await lane.pop()
            lane.busy = True
            if data is None:
                return
            draw = link.rng.uniform(-1.0, 1.0)
            # Recompute the deadline whenever a knob changes, so lowering the delay
            # also releases chunks that are already waiting.
            while True:
                knobs = link.knobs
                delay_ms = max(0.0, knobs.delay_ms + draw * knobs.jitter_ms)
                if not knobs.shapes(way):
                    delay_ms = 0.0
                remaining_s = arrival_s + delay_ms / 1000 - loop.time()
                if remaining_s <= 0:
                    break
                await link.wait_changed(remaining_s)
            if link.knobs.blackhole:
                self._swallow()
                continue
            await self._write_shaped(way, lane, data, writer)

    async def _write_shaped(self, way: str, lane: _Lane, data: bytes, writer) -> None:
        loop, knobs = asyncio.get_running_loop(), self.link.knobs
        shaped = knobs.shapes(way)
        step = knobs.chunk_bytes if shaped and knobs.chunk_bytes else len(data)
        rate_bps = knobs.bandwidth_kbps * 125 if shaped else 0.0  # kilobits/s to bytes/s
        if rate_bps:
            step = min(step, max(1, int(rate_bps * PACING_SLICE_S)))
        for start in range(0, len(data), step):
            if start and shaped and knobs.chunk_bytes:
                # Slices leave about 1 ms apart, so the reader sees them one by one
                # instead of finding them merged in its receive buffer.
                await asyncio.sleep(0.0005)
            piece = data[start : start + step]
            if rate_bps:
                send_at_s = max(loop.time(), lane.next_free_s)
                lane.next_free_s = send_at_s + len(piece) / rate_bps
                if send_at_s > loop.time():
                    await asyncio.sleep(send_at_s - loop.time())
            writer.write(piece)
            self._count(way, len(piece))
            await writer.drain()
