"""Lesson 05's figures for `make bench`: each one measured three times, the median kept.

- `tcp_rtt_over_sockperf_p50`: the lesson's blocking client against its asyncio echo
  server, over sockperf's C ping-pong, p50 against p50, both unpinned, same run;
- `unbounded_over_backpressure_peak_mb`: peak MB held by a sender that never waits,
  over one that drains into a bounded queue (same receiver, same offered rate);
- `redis_cluster_failover_s`: seconds from SIGKILL of a master to its replica saying
  it is master (cluster-node-timeout 1000 ms), three masters killed in turn.
"""

from __future__ import annotations

import statistics

import numpy as np

from labsupport import serve_tcp

from .rigs import run_flow
from .rigs_cluster import time_failover
from .rigs_rtt import echo_line, raw_call, sockperf_p50_us, time_calls
from .services import SlowReader
from .services_cluster import RedisClusterLab


def rtt_ratio() -> float:
    """Return the lesson's TCP round trip p50 over sockperf's, measured back to back."""
    with serve_tcp(echo_line, name="bench-echo") as echo:
        ours = float(np.percentile(time_calls(raw_call(echo.target), n=3000), 50))
    return ours / sockperf_p50_us(duration_s=1.0)


def _flow_peak(send, queue_max: int) -> float:
    slow = SlowReader()
    with serve_tcp(slow.handle, name="bench-slow") as receiver:
        run = run_flow(receiver.target, send, label="bench", duration_s=1.5,
                       queue_max=queue_max, receiver=slow)  # fmt: skip
    return run.peak_held_mb


def _send_unbounded(writer, chunk) -> None:
    writer.write(chunk)


async def _send_with_drain(writer, chunk) -> None:
    writer.write(chunk)
    await writer.drain()


def flow_ratio() -> float:
    """Return the peak MB held without backpressure over the peak with it."""
    bounded = _flow_peak(_send_with_drain, queue_max=16)
    return _flow_peak(_send_unbounded, queue_max=0) / max(bounded, 1e-6)


def failovers_s(count: int = 3) -> list[float]:
    """Kill `count` masters of one cluster in turn; return each promotion time."""
    with RedisClusterLab(masters=3, node_timeout_ms=1000) as cluster:
        keys, masters = [], set()
        for n in range(1000):
            master = cluster.master_of(f"order:{n}")
            if master not in masters:
                masters.add(master)
                keys.append(f"order:{n}")
            if len(keys) == count:
                break
        return [time_failover(cluster, key, after_s=0.2).promoted_s for key in keys]


def measure() -> dict[str, float]:
    """Return lesson 05's three bench figures (about 35 s on the course's 2-core machine)."""
    return {
        "tcp_rtt_over_sockperf_p50": statistics.median(rtt_ratio() for _ in range(3)),
        "unbounded_over_backpressure_peak_mb": statistics.median(flow_ratio() for _ in range(3)),
        "redis_cluster_failover_s": statistics.median(failovers_s(3)),
    }
