"""Kill a Redis Cluster master and time the failover, while a client keeps writing.

`time_failover` SIGKILLs the master that serves `key`, then polls its replica every
20 ms (when does the cluster flag the master `fail`, when does the replica say it
is master) while a `redis.cluster.RedisCluster` client in another thread writes
`key` every 20 ms and records what it sees: ok, or the exception's name. It writes a key
served by another master too, to show what the rest of the cluster does meanwhile.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import redis
from redis.cluster import RedisCluster

from labsupport import config

from .services_cluster import RedisClusterLab


@dataclass
class FailoverRun:
    """What happened after the kill, in seconds since it: flags, promotion, client outcomes."""

    killed_port: int
    replica_port: int
    marked_fail_s: float | None = None
    promoted_s: float | None = None
    # one (start_s, end_s, "ok" or error name) per write: to the killed master's key, and to
    # a key on another master, each from a client and thread of its own
    client: list[tuple[float, float, str]] = field(default_factory=list)
    other: list[tuple[float, float, str]] = field(default_factory=list)

    def client_errors(self, other: bool = False) -> dict[str, int]:
        """Count the client's failed writes by error name (to the killed master's key, or the other)."""
        counts: dict[str, int] = {}
        for _, _, outcome in self.other if other else self.client:
            if outcome != "ok":
                counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def first_ok_after_kill_s(self) -> float | None:
        """Return when writes to the killed master's key were fine again (s after the kill).

        That is the end of the first successful write after the last write that failed or
        hung (over 0.25 s); a write that slipped in before the kill took effect is no sign.
        """
        trouble = [end for start, end, outcome in self.client
                   if start > 0 and (outcome != "ok" or end - start > 0.25)]  # fmt: skip
        if not trouble:
            return None
        return next((end for _, end, outcome in self.client
                     if outcome == "ok" and end >= max(trouble)), None)  # fmt: skip

    def longest_write_s(self, other: bool = False) -> float:
        """Return the longest time one write took (blocked in the client's retries included)."""
        return max((end - start for start, end, _ in (self.other if other else self.client)),
                   default=0.0)  # fmt: skip


def _write(client: RedisCluster, key: str, value: int) -> str:
    try:
        client.set(key, value)
    except (redis.RedisError, OSError) as exc:
        return type(exc).__name__
    return "ok"


def _client(port: int) -> RedisCluster:
    return RedisCluster(host=config.HOST, port=port, socket_timeout=0.5,
                        socket_connect_timeout=0.5)  # fmt: skip


def _write_steadily(port: int, key: str, log: list, t0: list[float], stop: threading.Event,
                    every_s: float) -> None:  # fmt: skip
    client, n = _client(port), 0
    while not stop.is_set():
        n += 1
        start = time.monotonic()
        outcome = _write(client, key, n)
        log.append((start - t0[0], time.monotonic() - t0[0], outcome))
        time.sleep(every_s)
    client.close()


def time_failover(
    cluster: RedisClusterLab, key: str = "order:1", *, timeout_s: float = 20.0,
    after_s: float = 1.0, every_s: float = 0.02,
) -> FailoverRun:  # fmt: skip
    """SIGKILL the master of key; return when it was flagged, when its replica took over."""
    master = cluster.master_of(key)
    run = FailoverRun(master, cluster.replica_of(master))
    other_key = next(k for n in range(1000) if cluster.master_of(k := f"other:{n}") != master)
    t0, stop = [time.monotonic() + 0.5], threading.Event()
    writers = [
        threading.Thread(target=_write_steadily, daemon=True, name=f"failover-client-{k}",
                         args=(run.replica_port, k, log, t0, stop, every_s))
        for k, log in ((key, run.client), (other_key, run.other))
    ]  # fmt: skip
    for writer in writers:
        writer.start()
    try:
        time.sleep(0.5)  # half a second of normal writes before the crash
        t0[0] = cluster.kill(master)
        _watch_replica(cluster, run, t0[0], timeout_s)
        time.sleep(after_s)  # and a second after the promotion
    finally:
        stop.set()
        for writer in writers:
            writer.join(5)
    return run


def _watch_replica(cluster: RedisClusterLab, run: FailoverRun, t0: float, timeout_s: float) -> None:
    replica = cluster.node(run.replica_port)
    while time.monotonic() - t0 < timeout_s:
        now = time.monotonic() - t0
        try:
            if run.marked_fail_s is None:
                seen = cluster.nodes_seen(run.replica_port)
                if any(n["port"] == run.killed_port and "fail" in n["flags"] for n in seen):
                    run.marked_fail_s = now
            if replica.execute_command("ROLE")[0] == "master":
                run.promoted_s = now
                run.marked_fail_s = run.marked_fail_s or now
                return
        except redis.RedisError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"the replica on port {run.replica_port} was not promoted in {timeout_s} s")
