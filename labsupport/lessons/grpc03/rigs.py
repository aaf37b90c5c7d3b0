"""Lesson 03's experiment drivers: codec timing, a slow stream reader, fair latency runs.

- `time_codecs`: encode and decode the same order in each format, median µs per call;
- `read_slowly`: read a server stream at a set pace and sample how far the server got;
- `grpc_frame`, `run_h2load`, `run_wrk`: the reference tools, each returning a p50 in ms;
- `measure_rest_and_grpc`: thin HTTP client vs stub, wrk vs h2load, on the same product.
"""

from __future__ import annotations

import re
import shutil
import statistics
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from labsupport.measure import run_closed_loop
from labsupport.thinhttp import ThinHttpClient

__all__ = [
    "grpc_frame",
    "measure_rest_and_grpc",
    "read_slowly",
    "run_h2load",
    "run_wrk",
    "time_codecs",
]


def time_codecs(
    codecs: dict[str, tuple[Callable[[], bytes], Callable[[bytes], Any]]], rounds: int = 2000
) -> list[dict]:
    """Time each format's encode() and decode(bytes): median of 5 batches, µs per call."""
    rows = []
    for name, (encode, decode) in codecs.items():
        data = encode()
        row = {"format": name, "bytes": len(data)}
        for label, fn in (("encode µs", encode), ("decode µs", partial(decode, data))):
            batches = []
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(rounds // 5):
                    fn()
                batches.append((time.perf_counter() - start) / (rounds // 5) * 1e6)
            row[label] = round(statistics.median(batches), 2)
        rows.append(row)
    return rows


def read_slowly(call: Any, sent: Callable[[], int], every_s: float, duration_s: float) -> dict:
    """Read a server stream one message per every_s for duration_s, then cancel it.

    Returns the samples `{"t_s", "sent", "read"}`: how many messages the server had
    produced (`sent()`) and how many this reader had taken, over time.
    """
    samples: dict[str, list] = {"t_s": [], "sent": [], "read": []}
    start, read = time.perf_counter(), 0
    for _ in call:
        read += 1
        now = time.perf_counter() - start
        samples["t_s"].append(now)
        samples["sent"].append(sent())
        samples["read"].append(read)
        if now >= duration_s:
            break
        time.sleep(every_s)
    call.cancel()
    return samples


def grpc_frame(message: Any) -> bytes:
    """Return a protobuf message framed the way gRPC sends it: flag, length, bytes."""
    data = message.SerializeToString()
    return struct.pack(">BI", 0, len(data)) + data


def run_h2load(target: str, method: str, message: Any, requests: int = 2000) -> dict:
    """Call a gRPC method with h2load (one connection, one call at a time); return p50_ms, rate."""
    if not shutil.which("h2load"):
        raise RuntimeError("h2load is missing: apt-get install -y nghttp2-client")
    with tempfile.TemporaryDirectory() as tmp:
        body, log = Path(tmp) / "request.bin", Path(tmp) / "log.tsv"
        body.write_bytes(grpc_frame(message))
        args = ["h2load", "-n", str(requests), "-c", "1", "-m", "1", "-d", str(body)]
        args += ["-H", "content-type: application/grpc", "-H", "te: trailers"]
        args += [f"--log-file={log}", f"http://{target}{method}"]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if "0 failed, 0 errored" not in out.stdout:
            raise RuntimeError(f"h2load reported failures:\n{out.stdout[-600:]}")
        micros = [int(line.split("\t")[2]) for line in log.read_text().splitlines() if line]
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out.stdout)
    return {"p50_ms": statistics.median(micros) / 1000, "req_per_s": float(rate.group(1))}


def run_wrk(url: str, duration_s: float = 1.0) -> dict:
    """GET url with wrk (one thread, one connection, whole seconds); return p50_ms and req_per_s."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is missing: apt-get install -y wrk")
    args = ["wrk", "-t1", "-c1", f"-d{max(1, round(duration_s))}s", "--latency", url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not (p50 and rate):
        raise RuntimeError(f"could not read wrk's output:\n{out[-600:]}")
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p50.group(2)]
    return {"p50_ms": float(p50.group(1)) * scale, "req_per_s": float(rate.group(1))}


def measure_rest_and_grpc(
    rest_url: str, grpc_target: str, stub: Any, request: Any, duration_s: float = 1.5
) -> dict[str, dict]:
    """Measure one product by REST and by gRPC, each with a thin client and its reference tool.

    All four share the same servers and run one after another, one call at a time.
    Returns {client: {"p50_ms", "req_per_s"}}; wrk's or h2load's row is left out when
    the tool is not installed (Debian: `wrk`, `nghttp2-client`).
    """
    http = ThinHttpClient(rest_url)
    path = f"/products/{request.sku}"

    def rest_call() -> None:
        status, _ = http.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")

    found = {}
    runs = {
        "REST, thin HTTP client": rest_call,
        "gRPC, generated stub": lambda: stub.GetProduct(request, timeout=5),
    }
    for name, call in runs.items():
        summary = run_closed_loop(call, clients=1, duration_s=duration_s, progress=False).summary()
        found[name] = {"p50_ms": summary.p50_ms, "req_per_s": summary.throughput_per_s}
    http.close()
    if shutil.which("wrk"):  # missing tools leave their row out (prereqs --bench installs them)
        found["REST, wrk"] = run_wrk(rest_url + path, duration_s)
    if shutil.which("h2load"):
        found["gRPC, h2load"] = run_h2load(grpc_target, "/shop.v1.Inventory/GetProduct", request)
    return found
