"""Small network helpers shared by services and brokers."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from . import config

LOWEST_PICKED = 10_000  # below this sit many well-known and registered services
_pick = random.SystemRandom()  # not the seeded module state a forked process would share


def ephemeral_range() -> tuple[int, int]:
    """Return the ports the kernel gives outgoing connections (Linux's default if unknown)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now and that no client will take meanwhile.

    A server started on it binds seconds later (RabbitMQ boots in about 7 s). A port from
    the ephemeral range can be handed to any outgoing connection in between, and once was
    (eaddrinuse in CI), so the port comes from below that range, checked by binding it.
    """
    low, _ = ephemeral_range()
    candidates = _pick.sample(range(LOWEST_PICKED, low), min(50, max(0, low - LOWEST_PICKED)))
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as sock:
            try:
                sock.bind((config.HOST, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as sock:
        sock.bind((config.HOST, 0))  # no room below the range: let the kernel choose
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """Tell whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
