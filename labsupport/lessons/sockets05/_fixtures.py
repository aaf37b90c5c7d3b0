"""The live peers lesson 05's checks run learners' code against.

- `ScriptServer`: on connect, reads one line naming a script and writes that script's
  byte chunks (a pause between chunks), then closes, or holds the connection open.
  Put a `FaultyProxy` with `chunk_bytes` in front to slice what it writes.
- `HeartbeatPeer`: reads one line naming a behaviour and heartbeats accordingly.
- `YieldingReader`: hands the learner a real StreamReader whose reads always yield to
  the loop, so a detector spinning on EOF can still be stopped by the check's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class ScriptServer:
    """Serve named scripts of byte chunks: {name: (chunks, hold_open)}."""

    scripts: dict[str, tuple[Sequence[bytes], bool]] = field(default_factory=dict)
    pause_s: float = 0.01

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            name = (await reader.readline()).decode().strip()
            chunks, hold = self.scripts.get(name, ((), False))
            for i, chunk in enumerate(chunks):
                if i:
                    await asyncio.sleep(self.pause_s)
                writer.write(chunk)
                await writer.drain()
            if hold:
                await reader.read()  # until the check hangs up
        writer.close()


# name: heartbeat gaps in seconds, then what the peer does: "close", "reset" or "hold"
BEHAVIOURS: dict[str, tuple[tuple[float, ...], str]] = {
    "closing": ((0.05, 0.05), "close"),
    "dying": ((0.05, 0.05), "reset"),
    "silent": ((0.05, 0.05), "hold"),
    "slow": ((0.1, 0.3, 0.05, 0.3, 0.2, 0.3, 0.1), "close"),
}


async def heartbeat_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Heartbeat as the behaviour named on the first line says (see BEHAVIOURS)."""
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        name = (await reader.readline()).decode().strip()
        gaps, end = BEHAVIOURS[name]
        writer.write(b"hb\n")
        for gap in gaps:
            await asyncio.sleep(gap)
            writer.write(b"hb\n")
            await writer.drain()
        if end == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if end == "hold":
            await reader.read()
    writer.close()


class YieldingReader:
    """Wrap a StreamReader: the same reads, each followed by a turn of the event loop."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __getattr__(self, name: str):
        return getattr(self._reader, name)

    async def readline(self) -> bytes:
        return await self._after(self._reader.readline())

    async def read(self, n: int = -1) -> bytes:
        return await self._after(self._reader.read(n))

    async def readexactly(self, n: int) -> bytes:
        return await self._after(self._reader.readexactly(n))

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        return await self._after(self._reader.readuntil(separator))

    @staticmethod
    async def _after(read):
        try:
            return await read
        finally:
            await asyncio.sleep(0)
