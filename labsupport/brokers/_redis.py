"""A real redis-server run as a plain user process in the lab folder."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from .. import _procs, config
from ._broker import Broker


def ping(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Send Redis a PING in RESP and tell whether it answered PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _aof_settled(client) -> bool:
    info = client.info("persistence")
    return not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled")


class RedisBroker(Broker):
    """Redis bound to 127.0.0.1 on a port of the lab's own; no persistence unless asked."""

    kind = "redis"
    start_timeout_s = 20.0

    def _probe(self, timeout_s: float = 1.0) -> bool:
        return ping(self.host, self.port, timeout_s)

    def _launch(self) -> subprocess.Popen:
        data_dir = Path(self.state["data_dir"])
        data_dir.mkdir(parents=True, exist_ok=True)
        persistent = self.state.get("persistent", False)
        argv = [self.state["binary"], "--bind", config.HOST, "--port", str(self.port)]
        argv += ["--protected-mode", "yes", "--dir", str(data_dir), "--save", ""]
        argv += ["--appendonly", "yes" if persistent else "no", "--appendfsync", "always"]
        argv += ["--daemonize", "no", "--loglevel", "warning"]
        return _procs.spawn(argv, label="redis-server", log_path=data_dir / "server.log")

    def set_persistence(self, on: bool = True) -> None:
        """Turn Redis's append-only file on or off, now and for later restarts."""
        import redis as redis_lib

        client = redis_lib.Redis(host=self.host, port=self.port, socket_timeout=5)
        try:
            client.config_set("appendonly", "yes" if on else "no")
            # Turning AOF on starts a rewrite; until it ends Redis refuses a clean shutdown
            # ("Writing initial AOF, can't exit"), so a restart right after would lose data.
            done = _procs.wait_until(lambda: _aof_settled(client), timeout_s=15, interval_s=0.05)
        finally:
            client.close()
        if not done:
            raise RuntimeError(
                f"Redis at {self.url} did not finish writing its append-only file in 15 s"
            )
        self.state["persistent"] = on
        if self.managed:
            self._save()
