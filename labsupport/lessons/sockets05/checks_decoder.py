"""Check lesson 05's first task: a length-prefixed frame decoder that works whatever the split.

Each case gets the bytes from a live TCP server, through the fault proxy where slicing
matters, and feeds what each `read()` returned to the learner's decoder. The same
bytes are then fed again in splits fixed by the case (one byte at a time, seeded
random cuts), so a verdict never depends on how the kernel happened to merge slices.
"""

from __future__ import annotations

import asyncio
import random
import struct
import tracemalloc

from labsupport import serve_tcp
from labsupport.checks import task
from labsupport.faults import FaultyProxy

from ._fixtures import ScriptServer
from .services import FrameTooLarge

LIMIT = 1024  # max_frame_bytes the cases use


def framed(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


PAYLOADS = [f"order {n}: {'mug-blue ' * (n % 5)}".encode() for n in range(1, 31)]
BINARY = [struct.pack("!IIHI16s", n, 7, n % 9, 1250, b"mug\nblue\0") for n in range(1, 9)]


def scripts() -> dict:
    stream = b"".join(framed(p) for p in PAYLOADS)
    return {
        "one-per-read": ([framed(p) for p in PAYLOADS[:8]], False),
        "stream": ([stream], False),
        "binary": ([b"".join(framed(p) for p in BINARY)], False),
        "empty": ([framed(b"first"), framed(b""), framed(b"last")], False),
        "at-limit": ([framed(b"x" * LIMIT)], False),
        "oversized": ([struct.pack("!I", 64 * 1024 * 1024) + b"x" * 100], True),
    }


def fetch(target: str, script: str, idle_s: float = 5.0) -> list[bytes]:
    """Ask the live server for a script; return what each read() returned (until EOF or idle_s)."""

    async def go() -> list[bytes]:
        reader, writer = await asyncio.open_connection(*target.rsplit(":", 1))
        writer.write(script.encode() + b"\n")
        chunks = []
        try:
            while chunk := await asyncio.wait_for(reader.read(65536), idle_s):
                chunks.append(chunk)
        except TimeoutError:
            pass  # a held connection: everything sent has arrived
        writer.close()
        return chunks

    return asyncio.run(go())


def decode(decoder_class, chunks: list[bytes], **kwargs) -> list[bytes]:
    decoder = decoder_class(max_frame_bytes=LIMIT, **kwargs)
    got: list[bytes] = []
    for chunk in chunks:
        got.extend(decoder.feed(chunk))
    return got


def cuts(data: bytes, seed: int) -> list[bytes]:
    """Split data at seeded random places, always including cuts inside the first header."""
    rng = random.Random(seed)
    points = sorted({1, 2, 3, *rng.sample(range(1, len(data)), k=min(len(data) - 1, 40))})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def expect(got: list[bytes], want: list[bytes], how: str) -> None:
    assert got == want, f"{how}: got {len(got)} messages for {len(want)} frames sent" + (
        "" if len(got) != len(want) else " (same count, different bytes)"
    )


@task("frame_decoder", lesson="05", title="A length-prefixed frame decoder", timeout_s=10)
def check_frame_decoder(case, FrameDecoder):  # noqa: N803 - the learner's class
    """Judge FrameDecoder(max_frame_bytes).feed(data) -> list of whole messages."""
    server = ScriptServer(scripts())
    with serve_tcp(server.handle, name="check-frames") as live, \
         FaultyProxy(live, name="check-frames", direction="down") as proxy:  # fmt: skip
        stream = b"".join(framed(p) for p in PAYLOADS)

        with case("yields each frame when every read holds exactly one",
                  hint="Look at what feed returns for a chunk holding one whole frame."):  # fmt: skip
            chunks = fetch(live.target, "one-per-read")
            expect(decode(FrameDecoder, [framed(p) for p in PAYLOADS[:8]]), PAYLOADS[:8],
                   "fed one frame per call")  # fmt: skip
            expect(decode(FrameDecoder, chunks), PAYLOADS[:8], "fed what the server sent")

        with case("yields every frame when the bytes arrive one at a time",
                  hint="A read can return part of a frame, even a single byte of it."):  # fmt: skip
            proxy.set(chunk_bytes=1)
            chunks = fetch(proxy.target, "one-per-read")
            proxy.reset()
            one_by_one = [stream[i : i + 1] for i in range(len(stream))]
            expect(decode(FrameDecoder, one_by_one), PAYLOADS, "fed one byte per call")
            expect(decode(FrameDecoder, chunks), PAYLOADS[:8], "fed through a slicing proxy")

        with case("yields every frame when many arrive in one chunk",
                  hint="One read can hold many frames: count what one feed returns."):  # fmt: skip
            chunks = fetch(live.target, "stream")
            expect(decode(FrameDecoder, [stream]), PAYLOADS, "fed 30 frames in one call")
            expect(decode(FrameDecoder, chunks), PAYLOADS, "fed what the server sent at once")

        with case("yields every frame whatever the split, headers cut in two included",
                  hint="The 4 header bytes can arrive in pieces too."):  # fmt: skip
            proxy.set(chunk_bytes=3)
            chunks = fetch(proxy.target, "stream")
            proxy.reset()
            for seed in range(20):
                expect(decode(FrameDecoder, cuts(stream, seed)), PAYLOADS,
                       f"fed random splits (seed {seed})")  # fmt: skip
            expect(decode(FrameDecoder, chunks), PAYLOADS, "fed 3-byte slices from the proxy")

        with case("passes binary payloads through untouched",
                  hint="The payload may contain any byte value, newlines and zeros too."):  # fmt: skip
            chunks = fetch(live.target, "binary")
            expect(decode(FrameDecoder, chunks), BINARY, "fed binary orders")

        with case("yields an empty frame (length 0) as an empty message",
                  hint="A frame whose length is 0 is still a message."):  # fmt: skip
            chunks = fetch(live.target, "empty")
            expect(decode(FrameDecoder, chunks), [b"first", b"", b"last"], "fed three frames")

        with case("accepts a frame of exactly max_frame_bytes",
                  hint="The limit itself is allowed; only lengths above it are refused."):  # fmt: skip
            chunks = fetch(live.target, "at-limit")
            got = decode(FrameDecoder, chunks)
            assert got == [b"x" * LIMIT], (
                f"a {LIMIT}-byte frame with the limit at {LIMIT} gave {len(got)} messages"
            )

        with case("allocates nothing for a refused frame",
                  hint="Measure the memory your decoder takes when the header says 4 MB."):  # fmt: skip
            header = struct.pack("!I", 4 * 1024 * 1024)
            tracemalloc.start()
            try:
                assert_refused(FrameDecoder, [header + b"x" * 10])
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < 256 * 1024, f"took {peak / 1e6:.1f} MB of memory to refuse one header"

        with case("refuses an oversized length as soon as the header arrives",
                  hint="A peer can announce 64 MB and send 100 bytes: what does your decoder wait for?"):  # fmt: skip
            chunks = fetch(live.target, "oversized", idle_s=0.5)
            assert_refused(FrameDecoder, chunks)

        with case("keeps each connection's bytes to itself",
                  hint="Two connections decoded at once: feed both decoders half a frame each."):  # fmt: skip
            a, b = FrameDecoder(max_frame_bytes=LIMIT), FrameDecoder(max_frame_bytes=LIMIT)
            got = a.feed(framed(b"alpha")[:6]) + b.feed(framed(b"bravo")[:6])
            got += a.feed(framed(b"alpha")[6:]) + b.feed(framed(b"bravo")[6:])
            assert got == [b"alpha", b"bravo"], f"two decoders fed in turn gave {got!r}"


def assert_refused(decoder_class, chunks: list[bytes]) -> None:
    decoder = decoder_class(max_frame_bytes=LIMIT)
    try:
        for chunk in chunks:
            decoder.feed(chunk)
    except FrameTooLarge:
        return
    raise AssertionError(
        "a header announcing more than max_frame_bytes raised nothing: the decoder kept waiting"
    )
