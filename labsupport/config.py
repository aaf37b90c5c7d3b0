"""Say where the lab keeps its state and where brokers live.

Every path and every environment override the lab honours is read here, so a learner
can find in one file why the lab did what it did.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def lab_dir() -> Path:
    """Return the per-lab folder (brokers' data, pid files, plots), creating it if needed."""
    path = Path(os.environ.get("LAB_DIR") or REPO_ROOT / ".lab").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def plots_dir() -> Path:
    """Return the folder where every plot's final frame is saved as a PNG."""
    path = Path(os.environ.get("LAB_PLOTS_DIR") or lab_dir() / "plots").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def redis_url_override() -> str | None:
    """Return REDIS_URL when the learner points the lab at a Redis of their own."""
    return os.environ.get("REDIS_URL") or None


def amqp_url_override() -> str | None:
    """Return AMQP_URL when the learner points the lab at a RabbitMQ of their own."""
    return os.environ.get("AMQP_URL") or None


def in_ci() -> bool:
    """Tell whether we run under CI, where a missing broker is a failure, never a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def keep_loopback_off_proxies() -> None:
    """Make HTTP and gRPC clients reach 127.0.0.1 directly even when a proxy is configured."""
    for var in ("no_proxy", "NO_PROXY"):
        present = [p for p in os.environ.get(var, "").split(",") if p]
        for host in ("127.0.0.1", "localhost", "::1"):
            if host not in present:
                present.append(host)
        os.environ[var] = ",".join(present)
