"""Lesson 05's wire formats and the TCP handlers that speak them (served with `serve_tcp`).

- framing: newline-delimited lines, and a 4-byte big-endian length prefix;
- `ORDER`: the binary order message packed with `struct`;
- handlers: a naive order server that takes one `read()` for one message, a framed one
  that survives malformed input, a slow reader (backpressure), a price feed that pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field

HEADER = struct.Struct("!I")  # network byte order, unsigned 32-bit length
MAX_FRAME_BYTES = 64 * 1024
# order_id u32, user_id u32, qty u16, price in cents u32, sku as 16 bytes padded with NULs
ORDER = struct.Struct("!IIHI16s")


class FrameTooLarge(ValueError):
    """Raised when a length prefix announces more bytes than the receiver accepts."""


def frame(payload: bytes) -> bytes:
    """Put the 4-byte length prefix in front of payload."""
    return HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader, max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """Read one length-prefixed frame; refuse a length above max_bytes before reading it."""
    (length,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    if length > max_bytes:
        raise FrameTooLarge(f"a frame of {length} bytes announced; the limit is {max_bytes}")
    return await reader.readexactly(length)


def pack_order(order_id: int, sku: str, qty: int, user_id: int = 7, price_cents: int = 0) -> bytes:
    """Pack one order into ORDER's 30 bytes."""
    return ORDER.pack(order_id, user_id, qty, price_cents, sku.encode())


def unpack_order(data: bytes) -> dict:
    """Unpack ORDER's bytes into a dict (struct.error when the size is wrong)."""
    order_id, user_id, qty, price_cents, sku = ORDER.unpack(data)
    sku = sku.rstrip(b"\0").decode()
    return {"order_id": order_id, "sku": sku, "qty": qty, "user_id": user_id,
            "price_cents": price_cents}  # fmt: skip


async def naive_order_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Treat each read() as one order (the mistake): answer 'ok <id>' or 'bad <n> bytes'."""
    while data := await reader.read(4096):
        try:
            reply = f"ok {unpack_order(data)['order_id']}"
        except (struct.error, UnicodeDecodeError):
            reply = f"bad {len(data)} bytes"
        writer.write(reply.encode() + b"\n")
        await writer.drain()
    writer.close()


async def order_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer each framed order with a framed 'ok <id>'; on malformed input, say why and hang up."""
    try:
        while True:
            try:
                payload = await read_frame(reader)
            except asyncio.IncompleteReadError:
                break  # the client hung up (between frames, or mid-frame)
            order = unpack_order(payload)
            writer.write(frame(f"ok {order['order_id']}".encode()))
            await writer.drain()
    except (FrameTooLarge, struct.error, UnicodeDecodeError) as exc:
        writer.write(frame(f"error {type(exc).__name__}: {exc}".encode()))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@dataclass
class SlowReader:
    """A receiver that reads `chunk_bytes` then rests `pause_s`: about chunk/pause bytes a second."""

    chunk_bytes: int = 64 * 1024
    pause_s: float = 0.01
    received: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # CancelledError too: stopping the server cancels handlers mid-sleep; ending quietly
        # keeps asyncio from logging the cancellation as an error.
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(self.chunk_bytes):
                self.received += len(data)
                await asyncio.sleep(self.pause_s)
        writer.close()


@dataclass
class PriceFeed:
    """Push price updates to every connected client, unasked; one line per update."""

    writers: set = field(default_factory=set)
    loop: asyncio.AbstractEventLoop | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.loop = asyncio.get_running_loop()
        self.writers.add(writer)
        try:
            await reader.read()  # the client never asks: wait until it hangs up
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def publish(self, sku: str, price_cents: int) -> int:
        """Push one update to every client (callable from any thread); return how many got it."""
        line = f"{sku} {price_cents}\n".encode()

        async def push() -> int:
            for writer in list(self.writers):
                writer.write(line)
            return len(self.writers)

        if self.loop is None:
            return 0
        return asyncio.run_coroutine_threadsafe(push(), self.loop).result(timeout=5)
