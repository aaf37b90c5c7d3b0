"""Check the lab's measuring tools against bare loops, wrk and known stalls: `python -m labsupport.bench`.

Prints one `name=value` line per figure (the median of several runs, with `_min` and
`_max` lines beside each ratio) and `#` comment lines saying where everything ran.
Both sides of every ratio are measured in this run, interleaved, under the same CPU
placement: servers pinned to one CPU and clients (harness threads and wrk) to another,
because on a small VM placement moves latency more than anything else.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pkgutil
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time
import types

import httpx

from labsupport import serve_app, serve_tcp, stop_all
from labsupport.demo import app, echo
from labsupport.measure import pin_process, pinned, run_closed_loop, run_open_loop
from labsupport.thinhttp import ThinHttpClient

REPEATS = 3
STALL_EVERY_S, STALL_S = 1.0, 0.2
SEEN: set[int] = set()  # CPUs the measuring threads were seen on
WARNINGS: list[str] = []  # what open-loop runs said about their own lateness


class EchoClient:
    """Send 64 bytes and wait for them back over a blocking socket.

    One socket per thread for the open loop's workers; `shared=True` keeps one socket
    for every caller, so a bare loop and the harness's thread use the same connection.
    """

    def __init__(self, target: str, shared: bool = False) -> None:
        host, _, port = target.rpartition(":")
        self.address, self.payload = (host, int(port)), b"x" * 64
        self.local = types.SimpleNamespace() if shared else threading.local()
        self.sockets: list[socket.socket] = []

    def __call__(self) -> None:
        sock = getattr(self.local, "sock", None)
        if sock is None:
            sock = self.local.sock = socket.create_connection(self.address, timeout=5)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sockets.append(sock)
        sock.sendall(self.payload)
        got = 0
        while got < 64:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("echo server closed the connection")
            got += len(chunk)

    def close(self) -> None:
        """Close every socket this client opened, whichever thread opened it."""
        for sock in self.sockets:
            sock.close()


async def stalling_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo, except during the first STALL_S of every STALL_EVERY_S (a GC pause, say)."""
    try:
        while data := await reader.read(65536):
            phase = time.monotonic() % STALL_EVERY_S
            if phase < STALL_S:
                await asyncio.sleep(STALL_S - phase)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass  # the client left, or the server is stopping
    finally:
        writer.close()


def report(name: str, values: list[float], spread: bool = True) -> None:
    """Print the median of a figure's runs, and its min and max."""
    print(f"{name}={statistics.median(values):.4g}")
    if spread:
        print(f"{name}_min={min(values):.4g}")
        print(f"{name}_max={max(values):.4g}")


def keep_notes(figure: str, result):
    """Remember an open-loop run's warnings (a late generator) to print with the figures."""
    WARNINGS.extend(f"{figure}: {note}".replace("=", " ") for note in result.notes)
    return result


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def p50_us(call, duration_s: float = 2.0) -> float:
    res = run_closed_loop(call, clients=1, duration_s=duration_s, warmup=200, progress=False)
    SEEN.update(res.placement["cpus_seen"])
    return res.summary().p50_ms * 1000


def bench_harness_overhead(target: str) -> None:
    """Compare time per call through run_closed_loop with a bare loop over the same client.

    Short adjacent runs, alternating which goes first, so load from elsewhere on the
    machine hits both sides alike; each round reports the median of its pairs.
    """
    call, n = EchoClient(target, shared=True), 300
    rounds, bare_us = [], []

    def bare() -> float:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            call()
        return (time.perf_counter_ns() - t0) / n / 1000

    def harness() -> float:
        res = run_closed_loop(call, clients=1, requests=n, duration_s=60, warmup=0, progress=False)
        SEEN.update(res.placement["cpus_seen"])
        return res.duration_s * 1e6 / res.summary().count

    for _ in range(200):
        call()
    for _ in range(REPEATS):
        pairs = []
        for i in range(30):
            if i % 2:
                plain = bare()
                through = harness()
            else:
                through = harness()
                plain = bare()
            pairs.append(through / plain)
            bare_us.append(plain)
        rounds.append(statistics.median(pairs))
    call.close()
    report("harness_overhead_ratio", rounds)
    report("echo_bare_loop_us_per_call", bare_us, spread=False)


def bench_stall(target: str) -> None:
    call, open_p99, closed_p99 = EchoClient(target), [], []
    for _ in range(REPEATS):
        opened = keep_notes(
            "stall", run_open_loop(call, rate_per_s=200, duration_s=2.0, workers=64, progress=False)
        )
        closed = run_closed_loop(call, clients=1, duration_s=2.0, warmup=20, progress=False)
        open_p99.append(opened.summary().p99_ms / (STALL_S * 1000))
        closed_p99.append(closed.summary().p99_ms / (STALL_S * 1000))
    call.close()
    print(f"# stall: {STALL_S * 1000:.0f} ms every {STALL_EVERY_S:g} s; open loop 200/s", end="")
    print(", closed loop 1 client, 2 s each")
    report("open_loop_p99_over_stall", open_p99)
    report("closed_loop_p99_over_stall", closed_p99)


def bench_rate(target: str) -> None:
    errors = []
    for _ in range(REPEATS):
        call = EchoClient(target)
        res = keep_notes(
            "rate", run_open_loop(call, rate_per_s=500, duration_s=2.0, progress=False)
        )
        call.close()
        errors.append(abs(res.summary().send_rate_per_s - 500) / 500)
    report("open_loop_rate_error", errors)


def start_proxy(target: str):
    """Start a pass-through FaultyProxy in front of target, or None if faults is missing."""
    try:
        from labsupport.faults import FaultyProxy
    except ImportError:
        print("# labsupport.faults is missing: proxy figures skipped")
        return None
    return FaultyProxy(upstream=target, seed=1)


def bench_proxy(url: str, proxy) -> None:
    added, accuracy = [], []
    direct, through = ThinHttpClient(url), ThinHttpClient(f"http://{proxy.target}")
    with proxy:
        for _ in range(REPEATS):
            direct_us = p50_us(lambda: direct.get("/health"), 1.0)
            passthrough_us = p50_us(lambda: through.get("/health"), 1.0)
            proxy.set(delay_ms=50, jitter_ms=0)
            res = run_closed_loop(
                lambda: through.get("/health"), clients=1, requests=20, warmup=2, progress=False
            )
            proxy.reset()
            added.append((passthrough_us - direct_us) / 1000)
            accuracy.append((res.summary().p50_ms - passthrough_us / 1000) / 50)
    direct.close()
    through.close()
    print("# proxy: delay accuracy is the p50 added over pass-through, divided by the 50 ms asked")
    report("proxy_passthrough_added_p50_ms", added)
    report("proxy_delay_accuracy", accuracy)


def bench_in_kernel(in_kernel_url: str, isolated_url: str) -> None:
    inside, outside = ThinHttpClient(in_kernel_url), ThinHttpClient(isolated_url)
    ratios = []
    for _ in range(REPEATS):
        ratios.append(
            p50_us(lambda: inside.get("/health")) / p50_us(lambda: outside.get("/health"))
        )
    inside.close()
    outside.close()
    report("in_kernel_over_subprocess_p50", ratios)


def wrk_p50_us(url: str) -> float:
    out = subprocess.run(
        ["wrk", "-c1", "-t1", "-d3s", "--latency", url], capture_output=True, text=True, timeout=30
    ).stdout
    match = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"could not find wrk's 50% line in:\n{out}")
    return float(match[1]) * {"us": 1.0, "ms": 1e3, "s": 1e6}[match[2]]


def bench_wrk(url: str) -> None:
    if shutil.which("wrk") is None:
        print("# wrk not found: apt-get install wrk (rest_harness_over_wrk_p50 skipped)")
        return
    client, httpx_client = ThinHttpClient(url), httpx.Client()
    ratios, httpx_ratios, thin, wrk = [], [], [], []
    for _ in range(REPEATS):
        thin.append(p50_us(lambda: client.get("/health"), 3.0))
        wrk.append(wrk_p50_us(f"{url}/health"))
        ratios.append(thin[-1] / wrk[-1])
        httpx_ratios.append(p50_us(lambda: httpx_client.get(f"{url}/health"), 1.0) / thin[-1])
    client.close()
    httpx_client.close()
    report("rest_harness_over_wrk_p50", ratios)
    report("rest_thin_p50_us", thin, spread=False)
    report("rest_wrk_p50_us", wrk, spread=False)
    report("httpx_over_thin_p50", httpx_ratios)


def bench_lessons() -> None:
    """Print the figures each lesson measures itself (`labsupport/lessons/<pkg>/bench.py`).

    Each lesson's `measure()` runs both sides of its ratios in one call and returns
    `{name: value}`; a lesson whose bench fails says so in a comment and the rest go on.
    """
    import labsupport.lessons as lessons

    for info in sorted(pkgutil.iter_modules(lessons.__path__), key=lambda m: m.name):
        name = f"labsupport.lessons.{info.name}.bench"
        if not info.ispkg or importlib.util.find_spec(name) is None:
            continue
        started = time.monotonic()
        try:
            figures = importlib.import_module(name).measure()
        except Exception as exc:  # one lesson's missing tool must not hide the others
            print(f"# {info.name}: bench failed: {type(exc).__name__}: {exc}")
            continue
        finally:
            stop_all()
        for figure, value in figures.items():
            print(f"{figure}={value:.4g}" if isinstance(value, float) else f"{figure}={value}")
        print(f"# {info.name}: {time.monotonic() - started:.0f} s")


def main() -> None:
    """Start the services, run every figure, stop everything."""
    can_pin = hasattr(os, "sched_getaffinity")
    cpus = sorted(os.sched_getaffinity(0)) if can_pin else list(range(os.cpu_count() or 1))
    server_cpu, client_cpu = cpus[0], cpus[-1]
    started = time.monotonic()
    print(f"# labsupport bench: medians of {REPEATS}+ runs; nproc {os.cpu_count()}, CPUs {cpus}")
    where = (
        f"servers (threads and processes) on CPU {server_cpu}, clients and wrk on CPU {client_cpu}"
    )
    print(f"# placement: {where if can_pin else 'not pinned (this OS cannot pin threads)'}")
    print(f"# load average at start {load_average()} (other work on the machine adds noise)")
    try:
        with pinned(server_cpu):
            echo_run = serve_tcp(echo, name="bench-echo")
            stall_run = serve_tcp(stalling_echo, name="bench-stall")
            in_kernel = serve_app(app, name="bench-in-kernel")
            isolated = serve_app("labsupport.demo:app", name="bench-isolated", isolated=True)
            if can_pin:
                pin_process(isolated.pid, server_cpu)
            proxy = start_proxy(isolated.target)
        with pinned(client_cpu):
            bench_harness_overhead(echo_run.target)
            bench_stall(stall_run.target)
            bench_rate(echo_run.target)
            if proxy is not None:
                bench_proxy(isolated.url, proxy)
            bench_in_kernel(in_kernel.url, isolated.url)
            bench_wrk(isolated.url)
    finally:
        stop_all()
    bench_lessons()
    print(
        f"# measuring threads were seen on CPUs {sorted(SEEN)}; load average now {load_average()}"
    )
    for warning in WARNINGS:
        print(f"# {warning}")
    print(f"# took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
