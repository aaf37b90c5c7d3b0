"""Kill a Redis Cluster master and time the failover, while a client keeps writing.

`time_failover` SIGKILLs the master that serves `key`, then polls its replica every
20 ms (when does the cluster flag the master `fail`, when does the replica say it
is master) while a `redis.cluster.RedisCluster` client in another thread writes
`key` every 20 ms and records what it sees: ok, or the exception's name.
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
    client: list[tuple[float, str]] = field(default_factory=list)  # (t_s, "ok" or error name)

    def client_errors(self) -> dict[str, int]:
        """Count the client's failed writes by error name."""
        counts: dict[str, int] = {}
        for _, outcome in self.client:
            if outcome != "ok":
                counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def first_ok_after_kill_s(self) -> float | None:
        """Return when the client's first write succeeded again after its first error."""
        failed = False
        for t_s, outcome in self.client:
            failed = failed or (outcome != "ok" and t_s >= 0)
            if failed and outcome == "ok":
                return t_s
        return None


def _write_steadily(client: RedisCluster, key: str, run: FailoverRun, t0: list[float],
                    stop: threading.Event, every_s: float) -> None:  # fmt: skip
    n = 0
    while not stop.is_set():
        n += 1
        try:
            client.set(key, n)
            outcome = "ok"
        except (redis.RedisError, OSError) as exc:
            outcome = type(exc).__name__
        run.client.append((time.monotonic() - t0[0], outcome))
        time.sleep(every_s)


def time_failover(
    cluster: RedisClusterLab, key: str = "order:1", *, timeout_s: float = 20.0,
    after_s: float = 1.0, every_s: float = 0.02,
) -> FailoverRun:  # fmt: skip
    """SIGKILL the master of key; return when it was flagged, when its replica took over."""
    master = cluster.master_of(key)
    run = FailoverRun(master, cluster.replica_of(master))
    client = RedisCluster(host=config.HOST, port=run.replica_port, socket_timeout=0.5,
                          socket_connect_timeout=0.5)  # fmt: skip
    t0, stop = [time.monotonic() + 0.5], threading.Event()
    writer = threading.Thread(target=_write_steadily, args=(client, key, run, t0, stop, every_s),
                              daemon=True, name="failover-client")  # fmt: skip
    writer.start()
    try:
        time.sleep(0.5)  # half a second of normal writes before the crash
        t0[0] = cluster.kill(master)
        _watch_replica(cluster, run, t0[0], timeout_s)
        time.sleep(after_s)  # and a second after the promotion
    finally:
        stop.set()
        writer.join(5)
        client.close()
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
