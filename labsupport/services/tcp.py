"""Serve an asyncio TCP handler (`async def handler(reader, writer)`) in its own loop thread."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from .. import _runtime, config

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def serve_tcp(handler: Handler, name: str = "tcp") -> _runtime.Running:
    """Start an asyncio TCP server for handler on 127.0.0.1 and a free port.

    Re-running with the same name replaces the old instance. Stopping it closes the
    listening socket and every open connection.
    """
    if not (
        inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(type(handler).__call__)
    ):
        raise TypeError(
            "serve_tcp needs an 'async def handler(reader, writer)' (or an object with an "
            f"'async def __call__(self, reader, writer)'); got {handler!r}"
        )
    _runtime.replace_running("tcp", name)
    loop_thread = _runtime.LoopThread(f"tcp-{name}")

    async def serving(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except asyncio.CancelledError:
            pass  # the server is stopping: a handler cut short is expected, not an error
        finally:
            writer.close()

    # Binding port 0 here (not a pre-made socket) keeps TCP_NODELAY on accepted sockets.
    server = loop_thread.run(asyncio.start_server(serving, config.HOST, 0), timeout_s=10)
    port = server.sockets[0].getsockname()[1]

    def stop() -> None:
        async def close() -> None:
            server.close()

        try:
            loop_thread.run(close(), timeout_s=5)
        finally:
            loop_thread.stop()  # cancels the handlers still serving connections

    return _runtime.register(_runtime.Running("tcp", name, port, stop, scheme=None))
