"""Lesson 05, direct sockets with asyncio: what its notebooks import beyond the toolkit.

    from labsupport.lessons import sockets05 as s5

- `services`: framing (`frame`, `read_frame`), the binary order (`ORDER`, `pack_order`),
  and TCP handlers: a naive and a framed order server, a slow reader, a price feed;
- `services_heartbeat`: `HeartbeatMonitor`, who is gone and why;
- `services_cluster`: `RedisClusterLab`, 3 masters and 3 replicas as local processes;
- `rigs`: `run_flow`, a fast sender and a slow receiver, sampled;
- `rigs_heartbeat`, `rigs_rtt`, `rigs_cluster`: peers, round trips, a timed failover;
- `charts`: the lesson's charts;
- `checks_decoder`, `checks_heartbeat`: the two graded tasks.
"""

from __future__ import annotations

from .charts import draw_flow, plot_detection_tradeoff, plot_failover, plot_round_trips
from .checks_decoder import check_frame_decoder
from .checks_heartbeat import check_heartbeat_detector
from .rigs import FlowRun, run_flow
from .rigs_cluster import FailoverRun, time_failover
from .rigs_heartbeat import false_alarms_per_min, start_peer
from .rigs_rtt import (
    echo_line,
    grpc_call,
    http_call,
    raw_call,
    sockperf_p50_us,
    start_servers,
    time_calls,
)
from .services import (
    MAX_FRAME_BYTES,
    ORDER,
    FrameTooLarge,
    PriceFeed,
    SlowReader,
    frame,
    naive_order_server,
    order_server,
    pack_order,
    read_frame,
    unpack_order,
)
from .services_cluster import RedisClusterLab
from .services_heartbeat import HeartbeatMonitor

__all__ = [
    "FailoverRun",
    "FlowRun",
    "FrameTooLarge",
    "HeartbeatMonitor",
    "MAX_FRAME_BYTES",
    "ORDER",
    "PriceFeed",
    "RedisClusterLab",
    "SlowReader",
    "check_frame_decoder",
    "check_heartbeat_detector",
    "draw_flow",
    "echo_line",
    "false_alarms_per_min",
    "frame",
    "grpc_call",
    "http_call",
    "naive_order_server",
    "order_server",
    "pack_order",
    "plot_detection_tradeoff",
    "plot_failover",
    "plot_round_trips",
    "raw_call",
    "read_frame",
    "run_flow",
    "sockperf_p50_us",
    "start_peer",
    "start_servers",
    "time_calls",
    "time_failover",
    "unpack_order",
]
