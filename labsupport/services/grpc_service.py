"""Serve a grpcio servicer on 127.0.0.1 with SO_REUSEPORT off."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import _runtime, config


def serve_grpc(
    servicer: Any,
    add_to_server: Callable[[Any, Any], None],
    name: str = "grpc",
    *,
    interceptors: Sequence[Any] = (),
    max_workers: int = 16,
    options: Sequence[tuple[str, Any]] = (),
) -> _runtime.Running:
    """Start a gRPC server for servicer and return its Running handle (`.target`).

    `add_to_server` is the generated `add_<Service>Servicer_to_server`. Re-running with
    the same name stops the old server first: gRPC's default SO_REUSEPORT would
    otherwise let two servers share the port and split the traffic between them.
    """
    import grpc  # imported here: never create gRPC state when labsupport is imported

    if not callable(add_to_server):
        raise TypeError("add_to_server must be the generated add_<Service>Servicer_to_server")
    _runtime.replace_running("grpc", name)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"grpc-{name}"),
        interceptors=list(interceptors),
        options=[("grpc.so_reuseport", 0), *options],
    )
    add_to_server(servicer, server)
    port = server.add_insecure_port(f"{config.HOST}:0")
    if port == 0:
        raise RuntimeError(f"gRPC server {name!r} could not bind a port on {config.HOST}")
    server.start()

    def stop() -> None:
        # A stopped grpc server cannot start again; a re-run cell builds a new one.
        server.stop(grace=0.5).wait(timeout=5)

    return _runtime.register(_runtime.Running("grpc", name, port, stop, scheme=None))
