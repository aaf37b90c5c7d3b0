"""Break services on purpose: a chaos TCP proxy and in-process fault helpers.

- `FaultyProxy`: latency, jitter, bandwidth, resets, black hole, outage and small
  writes, in front of any TCP service (HTTP, gRPC, Redis, RabbitMQ).
- `add_faults` / `FaultInjector`: a FastAPI app answers 5xx or slowly at a set rate.
- `GrpcFaultInterceptor`: a gRPC server fails calls (UNAVAILABLE) or answers slowly.
- `start_worker`, `CrashAfter`: consumers that die mid-message, for real or in a thread.
"""

from __future__ import annotations

import typing

from ._dice import FaultStats
from .asgi import FaultInjector, HttpFaultKnobs, HttpFaults, add_faults
from .knobs import ProxyKnobs, ProxyStats
from .proxy import FaultyProxy
from .workers import ConsumerCrashed, CrashAfter, Worker, crash_after, start_worker

__all__ = [
    "ConsumerCrashed",
    "CrashAfter",
    "FaultInjector",
    "FaultStats",
    "FaultyProxy",
    "GrpcFaultInterceptor",
    "GrpcFaultKnobs",
    "HttpFaultKnobs",
    "HttpFaults",
    "ProxyKnobs",
    "ProxyStats",
    "Worker",
    "add_faults",
    "crash_after",
    "start_worker",
]


def __getattr__(name: str) -> typing.Any:
    # Load grpc only when the interceptor is asked for: importing labsupport must stay
    # free of grpc (tests/test_public_api.py checks it).
    if name in ("GrpcFaultInterceptor", "GrpcFaultKnobs"):
        from . import interceptor

        return getattr(interceptor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
