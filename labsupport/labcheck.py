"""Check the lab from inside a notebook: a green/red table with the exact fix beside each red."""

from __future__ import annotations

import html
import importlib.metadata
import shutil
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field

from . import config

PACKAGES = {
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "httpx": "httpx",
    "grpcio": "grpc",
    "grpcio-tools": "grpc_tools",
    "redis": "redis",
    "pika": "pika",
    "matplotlib": "matplotlib",
    "ipywidgets": "ipywidgets",
    "tenacity": "tenacity",
    "pybreaker": "pybreaker",
}
INSTALL_FIX = "run 'make lab' from the repository (it installs the course into .venv), then pick the .venv kernel"


@dataclass
class CheckRow:
    """One line of the lab check: what was checked, whether it is fine, and the fix if not."""

    area: str
    item: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class LabReport:
    """All rows of a lab check; shows as a green/red table in a notebook."""

    rows: list[CheckRow] = field(default_factory=list)

    @property
    def all_green(self) -> bool:
        return all(row.ok for row in self.rows)

    def failures(self) -> list[CheckRow]:
        return [row for row in self.rows if not row.ok]

    def __repr__(self) -> str:
        lines = [
            f"{'OK ' if r.ok else 'RED'} {r.area:9s} {r.item:14s} {r.detail}"
            + (f"\n    fix: {r.fix}" if r.fix else "")
            for r in self.rows
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = []
        for r in self.rows:
            colour = "#d4f7d4" if r.ok else "#ffd6d6"
            mark = "✔" if r.ok else "✘"
            cells.append(
                f"<tr style='background:{colour}'><td>{mark}</td><td>{html.escape(r.area)}</td>"
                f"<td><code>{html.escape(r.item)}</code></td><td>{html.escape(r.detail)}</td>"
                f"<td>{html.escape(r.fix).replace(chr(10), '<br>')}</td></tr>"
            )
        head = "<tr><th></th><th>area</th><th>item</th><th>found</th><th>fix</th></tr>"
        return f"<table>{head}{''.join(cells)}</table>"


def _check_packages() -> list[CheckRow]:
    rows = [
        CheckRow(
            "python",
            "python",
            sys.version_info >= (3, 10),
            sys.version.split()[0],
            "" if sys.version_info >= (3, 10) else "install Python 3.10 or newer",
        )
    ]
    for dist, module in PACKAGES.items():
        try:
            __import__(module)
            rows.append(CheckRow("package", dist, True, importlib.metadata.version(dist)))
        except Exception as exc:  # noqa: BLE001 - any import failure is a red row
            rows.append(
                CheckRow("package", dist, False, f"{type(exc).__name__}: {exc}", INSTALL_FIX)
            )
    return rows


def _check_broker(label: str, ensure) -> CheckRow:
    try:
        start = time.perf_counter()
        broker = ensure()
        waited = time.perf_counter() - start
        where = "from the environment" if not broker.managed else "run by the lab"
        return CheckRow("broker", label, True, f"{broker.url} ({where}, ready in {waited:.1f} s)")
    except Exception as exc:  # noqa: BLE001 - the message carries the ways out
        return CheckRow("broker", label, False, str(exc).splitlines()[0], str(exc))


def _check_loopback() -> list[CheckRow]:
    from .demo import echo
    from .services import serve_tcp

    rows = []
    try:
        with socket.socket() as sock:
            sock.bind((config.HOST, 0))
            rows.append(
                CheckRow(
                    "network", "free port", True, f"bound {config.HOST}:{sock.getsockname()[1]}"
                )
            )
    except OSError as exc:
        return [
            CheckRow(
                "network",
                "free port",
                False,
                str(exc),
                "something blocks binding 127.0.0.1: check firewall/sandbox settings",
            )
        ]
    with (
        serve_tcp(echo, name="labcheck-echo") as run,
        socket.create_connection((run.host, run.port), timeout=5) as sock,
    ):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        samples = []
        for _ in range(200):
            start = time.perf_counter()
            sock.sendall(b"ping")
            sock.recv(16)
            samples.append((time.perf_counter() - start) * 1000)
    p50 = statistics.median(samples)
    fix = (
        ""
        if p50 < 5
        else "loopback is slow: close heavy programs, or check that nothing intercepts 127.0.0.1"
    )
    rows.append(
        CheckRow("network", "loopback p50", p50 < 5, f"{p50 * 1000:.0f} µs per round trip", fix)
    )
    return rows


def check_lab(*, brokers: bool = True) -> LabReport:
    """Check packages, Redis, RabbitMQ, ports and tools; return a report that renders as a table."""
    from .brokers import ensure_rabbitmq, ensure_redis

    report = LabReport(_check_packages())
    if brokers:
        report.rows.append(_check_broker("Redis", ensure_redis))
        report.rows.append(_check_broker("RabbitMQ", ensure_rabbitmq))
    report.rows.extend(_check_loopback())
    curl = shutil.which("curl")
    report.rows.append(
        CheckRow(
            "tool",
            "curl",
            bool(curl),
            curl or "not found",
            "" if curl else "apt-get install curl (or brew install curl)",
        )
    )
    return report
