"""Serve an asyncio TCP handler (`async def handler(reader, writer)`) in its own loop thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .. import _runtime, config

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def serve_tcp(handler: Handler, name: str = "tcp") -> _runtime.Running:
    """Start an asyncio TCP server for handler on 127.0.0.1 and a free port.

    Re-running with the same name replaces the old instance. Stopping it closes the
    listening socket and every open connection.
    """
    if not asyncio.iscoroutinefunction(handler):
        raise TypeError(
            "serve_tcp needs an 'async def handler(reader, writer)'; "
            f"got {handler!r}, which is not a coroutine function"
        )
    _runtime.replace_running("tcp", name)
    loop_thread = _runtime.LoopThread(f"tcp-{name}")
    # Binding port 0 here (not a pre-made socket) keeps TCP_NODELAY on accepted sockets.
    server = loop_thread.run(asyncio.start_server(handler, config.HOST, 0), timeout_s=10)
    port = server.sockets[0].getsockname()[1]

    def stop() -> None:
        async def close() -> None:
            server.close()

        try:
            loop_thread.run(close(), timeout_s=5)
        finally:
            loop_thread.stop()  # cancels the handlers still serving connections

    return _runtime.register(_runtime.Running("tcp", name, port, stop, scheme=None))
