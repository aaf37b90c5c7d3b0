"""Plumbing for the Microservice Communication Lab: services, brokers, measuring, faults, plots.

Lessons import what they need by name; everything here is safe to import in a kernel
(no gRPC state is created, nothing is started until asked).
"""

from __future__ import annotations

from . import config
from ._runtime import Running, running_services, stop_all
from .brokers import ensure_rabbitmq, ensure_redis, fresh_name
from .services import serve_app, serve_grpc, serve_tcp

config.keep_loopback_off_proxies()

__all__ = [
    "Running",
    "ensure_rabbitmq",
    "ensure_redis",
    "fresh_name",
    "running_services",
    "serve_app",
    "serve_grpc",
    "serve_tcp",
    "stop_all",
]
