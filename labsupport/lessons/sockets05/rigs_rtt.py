"""Round trips on one machine: raw TCP, HTTP, gRPC, and sockperf's C ping-pong as the floor.

Each `*_call` returns a no-argument function that makes one round trip; `time_calls`
runs it n times back to back and returns the microseconds of each. `sockperf_p50_us`
runs Debian's `sockperf` server and client for a second and reads its median.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable

import numpy as np
from fastapi import FastAPI

from labsupport import config, serve_app, serve_grpc, serve_tcp
from labsupport.processes import start_process, stop_process
from labsupport.thinhttp import ThinHttpClient
from labsupport.waiting import wait_until

from .services_cluster import free_port


async def echo_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo each line back: the smallest request/response protocol over TCP."""
    try:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def raw_call(target: str) -> Callable[[], bytes]:
    """Return one blocking round trip of a 16-byte line to an echo server."""
    host, port = target.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = b"x" * 15 + b"\n"

    def call() -> bytes:
        sock.sendall(message)
        got = sock.recv(64)
        while not got.endswith(b"\n"):
            got += sock.recv(64)
        return got

    return call


def http_call(url: str) -> Callable[[], tuple[int, bytes]]:
    """Return one GET /ping with the thin HTTP client (its own cost is near zero)."""
    client = ThinHttpClient(url)
    return lambda: client.get("/ping")


def grpc_call(target: str) -> Callable[[], bytes]:
    """Return one unary gRPC call to the generic echo handler, raw bytes in and out."""
    import grpc

    channel = grpc.insecure_channel(target)
    return lambda: channel.unary_unary("/lab.Echo/Ping")(b"x" * 16, timeout=5)


def start_servers() -> dict:
    """Serve the three echo services in this kernel: raw TCP, FastAPI, gRPC; return their handles."""
    import grpc

    app = FastAPI()
    app.get("/ping")(lambda: {"pong": True})
    handler = grpc.method_handlers_generic_handler(
        "lab.Echo", {"Ping": grpc.unary_unary_rpc_method_handler(lambda request, context: request)}
    )
    return {
        "raw TCP": serve_tcp(echo_line, name="rtt-echo"),
        "HTTP": serve_app(app, name="rtt-http"),
        "gRPC": serve_grpc(
            None, lambda _s, server: server.add_generic_rpc_handlers((handler,)), name="rtt-grpc"
        ),  # fmt: skip
    }


def time_calls(call: Callable[[], object], n: int = 2000, warmup: int = 100) -> np.ndarray:
    """Make n round trips back to back (after warmup); return each one's microseconds."""
    for _ in range(warmup):
        call()
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        call()
        out[i] = time.perf_counter() - t
    return out * 1e6


def sockperf_p50_us(duration_s: float = 1.0) -> float:
    """Run sockperf's TCP ping-pong (server and client, both C) and return its median RTT in µs."""
    binary = shutil.which("sockperf")
    if binary is None:
        raise RuntimeError("sockperf is not installed: apt-get install -y sockperf")
    port = free_port()
    server = start_process([binary, "server", "--tcp", "-i", config.HOST, "-p", port],
                           label="sockperf-server")  # fmt: skip
    try:
        wait_until(lambda: _accepts(port), 10, "sockperf server accepting connections")
        out = subprocess.run(
            [binary, "ping-pong", "--tcp", "-i", config.HOST, "-p", str(port), "-m", "16",
             "-t", str(max(1, round(duration_s))), "--full-rtt"],
            capture_output=True, text=True, timeout=30 + duration_s, check=True,
        ).stdout  # fmt: skip
    finally:
        stop_process(server, timeout_s=2)
    found = re.search(r"percentile 50\.000 =\s*([\d.]+)", out)
    if not found:
        raise RuntimeError(f"could not read sockperf's median from:\n{out[-800:]}")
    return float(found.group(1))


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((config.HOST, port)) == 0
