"""Heartbeat peers that behave well or badly, each a real TCP client in a thread of its own.

- "closing": 3 heartbeats, then closes the connection (a clean shutdown);
- "dying": 3 heartbeats, then its connection is reset (a crash seen by the kernel);
- "silent": 3 heartbeats, then nothing, with the connection left open (a hung
  process, a frozen VM, a network partition);
- "slow": heartbeats with seeded pauses (garbage collection, a busy loop), but alive.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from dataclasses import dataclass


@dataclass
class Peer:
    """One peer's run: when it went quiet (monotonic: its last heartbeat, or its hang-up)."""

    name: str
    behaviour: str
    thread: threading.Thread
    went_quiet_at: float | None = None
    stop: threading.Event | None = None


def start_peer(target: str, name: str, behaviour: str, *, interval_s: float = 0.05,
               beats: int = 3, duration_s: float = 3.0, seed: int = 1,
               pause_prob: float = 0.08, mean_pause_s: float = 0.12) -> Peer:  # fmt: skip
    """Connect to the monitor at target and heartbeat in a thread, as `behaviour` says."""
    if behaviour not in ("closing", "dying", "silent", "slow"):
        raise ValueError(f"behaviour must be closing, dying, silent or slow, not {behaviour!r}")
    host, port = target.rsplit(":", 1)
    stop = threading.Event()
    peer = Peer(name, behaviour, None, stop=stop)  # type: ignore[arg-type]

    def run() -> None:
        rng = random.Random(seed)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(f"{name}\n".encode())
            started = time.monotonic()
            n, last_sent = 0, started
            while not stop.is_set() and time.monotonic() - started < duration_s:
                if behaviour != "slow" and n == beats:
                    break
                # Stamped before the send: the monitor cannot hear a beat before it leaves,
                # but this thread may get the CPU back only after the monitor has heard it.
                last_sent = time.monotonic()
                sock.sendall(b"hb\n")
                n += 1
                pause = rng.expovariate(1 / mean_pause_s) if rng.random() < pause_prob else 0.0
                stop.wait(interval_s + (pause if behaviour == "slow" else 0.0))
            # a silent peer went quiet at its last heartbeat; the others when they hang up
            peer.went_quiet_at = last_sent if behaviour == "silent" else time.monotonic()
            if behaviour == "dying":  # SO_LINGER 0: close sends RST, as a killed process may
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif behaviour == "silent":
                stop.wait(duration_s)  # keep the connection open, say nothing

    peer.thread = threading.Thread(target=run, daemon=True, name=f"peer-{name}")
    peer.thread.start()
    return peer


def false_alarms_per_min(gaps_s: list[float], timeouts_s: list[float]) -> list[float]:
    """For each timeout, count gaps longer than it, scaled to alarms per minute of heartbeats."""
    minutes = sum(gaps_s) / 60 if gaps_s else 1.0
    return [sum(gap > t for gap in gaps_s) / minutes for t in timeouts_s]
