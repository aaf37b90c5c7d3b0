"""The Broker handle: one real broker process per lab, found again by any kernel."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import _procs, config


def state_dir() -> Path:
    path = config.lab_dir() / "brokers"
    path.mkdir(exist_ok=True)
    return path


@contextlib.contextmanager
def lab_lock(kind: str) -> Iterator[None]:
    """Hold a file lock so two kernels never start the same broker twice."""
    with open(state_dir() / f"{kind}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Broker:
    """A real Redis or RabbitMQ server: where it listens, and how to stop, start or crash it.

    Subclasses say how to launch the server (`_launch`) and how to tell it is healthy
    (`_probe`). State lives in `<lab>/brokers/<kind>.json`, so a restarted kernel finds
    the broker again instead of paying its start-up twice.
    """

    kind = "broker"
    start_timeout_s = 30.0

    def __init__(self, url: str, host: str, port: int, *, managed: bool, state: dict | None = None):
        self.url, self.host, self.port, self.managed = url, host, port, managed
        self.state: dict[str, Any] = state or {}
        self._proc: subprocess.Popen | None = None

    # --- what subclasses provide -------------------------------------------------
    def _launch(self) -> subprocess.Popen:
        raise NotImplementedError

    def _probe(self, timeout_s: float = 1.0) -> bool:
        raise NotImplementedError

    def _after_stop(self) -> None:
        """Clean up helpers of the server (RabbitMQ's epmd); nothing by default."""

    # --- public ------------------------------------------------------------------
    def is_up(self) -> bool:
        """Tell whether the broker answers its protocol right now."""
        return self._probe()

    def wait_up(self, timeout_s: float = 60.0) -> bool:
        """Wait until the broker answers, at most timeout_s; return whether it does."""
        return _procs.wait_until(self._probe, timeout_s=timeout_s, interval_s=0.2)

    def start(self) -> Broker:
        """Start the broker again on the same port and data folder (after stop or kill)."""
        self._require_managed("start")
        with lab_lock(self.kind):
            return self.start_locked()

    def start_locked(self) -> Broker:
        """Start the broker unless it answers already; the caller holds lab_lock(kind)."""
        if self._probe():
            return self
        self._proc = self._launch()
        self.state.update(pid=self._proc.pid, owner_pid=os.getpid())
        self._save()
        up = _procs.wait_until(
            lambda: self._proc.poll() is not None or self._probe(),
            timeout_s=self.start_timeout_s,
            interval_s=0.2,
        )
        if not (up and self._probe()):
            self._terminate(signal.SIGKILL, timeout_s=2)
            raise RuntimeError(self._start_failure())
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the broker cleanly (SIGTERM), as an operator would."""
        self._require_managed("stop")
        self._terminate(signal.SIGTERM, timeout_s=timeout_s)
        self._after_stop()

    def kill(self) -> None:
        """Kill the broker with SIGKILL, as a crash or a pulled plug would."""
        self._require_managed("kill")
        self._terminate(signal.SIGKILL, timeout_s=5)

    def restart(self) -> Broker:
        """Stop the broker cleanly and start it again on the same port."""
        self.stop()
        return self.start()

    def __repr__(self) -> str:
        how = "lab-managed" if self.managed else "from the environment"
        return f"<Broker {self.kind} at {self.url} ({how}, {'up' if self._probe() else 'down'})>"

    # --- internals ---------------------------------------------------------------
    def _require_managed(self, action: str) -> None:
        if not self.managed:
            env = "REDIS_URL" if self.kind == "redis" else "AMQP_URL"
            raise RuntimeError(
                f"The {self.kind} at {self.url} comes from {env}, so the lab cannot {action} it. "
                f"Unset {env} to let the lab run its own broker for the failure experiments."
            )

    def _terminate(self, sig: int, timeout_s: float) -> None:
        pid = self.state.get("pid")
        if self._proc is not None and self._proc.pid == pid:
            _procs.terminate(self._proc, timeout_s=timeout_s, sig=sig)
            return
        if pid and _procs.pid_alive(pid):  # started by another kernel or by `make lab`
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            if not _procs.wait_until(lambda: not _procs.pid_alive(pid), timeout_s=timeout_s):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                _procs.wait_until(lambda: not _procs.pid_alive(pid), timeout_s=5)

    def _start_failure(self) -> str:
        log = Path(self.state["data_dir"]) / "server.log"
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else "(no log)"
        return f"{self.kind} did not come up on port {self.port} within {self.start_timeout_s:.0f} s. Its log ends with:\n{tail}"

    def _save(self) -> None:
        path = state_dir() / f"{self.kind}.json"
        path.write_text(json.dumps({**self.state, "url": self.url, "port": self.port}))


def load_state(kind: str) -> dict | None:
    """Read the broker's state file, or None if there is none."""
    path = state_dir() / f"{kind}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
