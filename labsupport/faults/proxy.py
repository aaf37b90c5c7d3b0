"""Put a chaos TCP proxy in front of any service: HTTP, gRPC, Redis, RabbitMQ, raw TCP.

First used in lesson 00; every later lesson breaks its services through it.

    proxy = FaultyProxy(upstream=redis, name="redis", seed=1)
    r = redis.Redis.from_url(proxy.url_for(redis.url))
    proxy.set(delay_ms=50, jitter_ms=10)
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import urllib.parse
from typing import Any

from .. import _runtime, config
from ._pipe import Connection, Link, reset_writer, set_nodelay
from .knobs import ProxyKnobs, ProxyStats, describe_knobs, update_knobs

CONNECT_TIMEOUT_S = 3.0


def parse_target(upstream: Any) -> tuple[str, int]:
    """Read "host:port", or any object with `.host` and `.port` (a Running, a Broker)."""
    if hasattr(upstream, "host") and hasattr(upstream, "port"):
        return str(upstream.host), int(upstream.port)
    host, sep, port = str(upstream).rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"upstream must look like '127.0.0.1:6379' (host:port), got {upstream!r}")
    return host, int(port)


class FaultyProxy:
    """Forward TCP from 127.0.0.1:<free port> to `upstream`, with faults you can turn on.

    Starts at once on its own loop thread. Every knob (see `ProxyKnobs`) can change
    while traffic flows and acts on the next chunk of open connections too. Dice come
    from `random.Random(seed)`: sequential runs repeat exactly. Creating a proxy with
    the `name` of one still running stops the old one (re-running a cell is safe);
    `stop_all()` stops proxies too, and `running_services()` lists them as "proxy".
    """

    def __init__(self, upstream: Any, name: str | None = None, seed: int | None = 0, **knobs):
        self.upstream_host, self.upstream_port = parse_target(upstream)
        self.name = name
        self._link = Link(update_knobs(ProxyKnobs(), **knobs), seed)
        self._server: asyncio.Server | None = None
        self.host, self.port = config.HOST, 0
        if name is not None:
            _runtime.replace_running("proxy", name)
        self._loop_thread = _runtime.LoopThread(f"proxy-{name or self.upstream_port}")
        try:
            self._loop_thread.run(self._listen())
            if self._link.knobs.down:
                self._loop_thread.run(self._close())
        except BaseException:
            self._loop_thread.stop()
            raise
        # Registered like every served thing, so stop_all() and running_services() see it.
        self._running = _runtime.register(
            _runtime.Running("proxy", name or f"proxy-{self.port}", self.port, self._shutdown)
        )

    @property
    def target(self) -> str:
        """Return "host:port" of the proxy, for gRPC channels and raw sockets."""
        return f"{self.host}:{self.port}"

    @property
    def upstream(self) -> str:
        """Return "host:port" of the service behind the proxy."""
        return f"{self.upstream_host}:{self.upstream_port}"

    @property
    def knobs(self) -> ProxyKnobs:
        """Return the current settings."""
        return self._link.knobs

    @property
    def stats(self) -> ProxyStats:
        """Return a snapshot of the counters."""
        snapshot = dataclasses.replace(self._link.stats)
        snapshot.connections_open = len(self._link.connections)
        return snapshot

    def set(self, **knobs: Any) -> ProxyKnobs:
        """Change knobs now, e.g. `proxy.set(delay_ms=50, jitter_ms=10)`; return all knobs."""
        self._ensure_running()
        new = update_knobs(self._link.knobs, **knobs)
        self._loop_thread.run(self._apply(new))
        return new

    def reset(self) -> ProxyKnobs:
        """Put every knob back to pass-through (the counters stay)."""
        self._ensure_running()
        self._loop_thread.run(self._apply(ProxyKnobs()))
        return self._link.knobs

    def cut_connections(self) -> int:
        """Reset every open connection now (a network blip); return how many there were."""
        self._ensure_running()
        return self._loop_thread.run(self._cut_all())

    def url_for(self, url: str) -> str:
        """Return `url` with its host:port replaced by the proxy's (user, path and query kept)."""
        parts = urllib.parse.urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"no host in {url!r}: pass a full URL like 'redis://127.0.0.1:6379/0'")
        if parts.port is not None and parts.port != self.upstream_port:
            raise ValueError(
                f"{url!r} points at port {parts.port} but this proxy forwards to "
                f"{self.upstream}: pass the upstream's own URL"
            )
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{self.target}" if userinfo else self.target
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))

    def check_upstream(self, timeout_s: float = 1.0) -> bool:
        """Connect to the upstream once: True, or a ConnectionError saying what to check."""
        try:
            socket.create_connection((self.upstream_host, self.upstream_port), timeout_s).close()
            return True
        except OSError as exc:
            raise ConnectionError(
                f"upstream {self.upstream} is not accepting connections: is the service "
                f"running? ({exc.strerror or exc})"
            ) from None

    def stop(self) -> None:
        """Close the listener and every connection; safe to call twice."""
        self._running.stop()

    def _shutdown(self) -> None:
        try:
            self._loop_thread.run(self._close(wait_s=1.0), timeout_s=5)
        finally:
            self._loop_thread.stop()

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._running.stopped else describe_knobs(self._link.knobs)
        label = f" {self.name!r}" if self.name else ""
        return f"<FaultyProxy{label} {self.target} -> {self.upstream} ({state})>"

    def _ensure_running(self) -> None:
        if self._running.stopped:
            raise RuntimeError(f"{self!r} is stopped: create a new FaultyProxy")

    # --- on the loop thread -------------------------------------------------------

    async def _listen(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            raise RuntimeError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror}): "
                "another program took the port while the proxy was down; create a new FaultyProxy"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]

    async def _apply(self, new: ProxyKnobs) -> None:
        was_down = self._link.knobs.down
        self._link.knobs = new
        self._link.notify_changed()
        if new.down and not was_down:
            await self._close()
        elif was_down and not new.down:
            await self._listen()

    async def _cut_all(self) -> int:
        connections = list(self._link.connections)
        for connection in connections:
            connection.abort()
        self._link.stats.resets += len(connections)
        return len(connections)

    async def _close(self, wait_s: float = 0.0) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._cut_all()
        # Let the aborted connections unwind before the loop goes away.
        deadline_s = asyncio.get_running_loop().time() + wait_s
        while self._link.connections and asyncio.get_running_loop().time() < deadline_s:
            await asyncio.sleep(0.01)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = self._link
        link.stats.connections_total += 1
        set_nodelay(writer)
        if link.knobs.reset_prob and link.rng.random() < link.knobs.reset_prob:
            link.stats.resets += 1
            reset_writer(writer)
            return
        try:
            upstream = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port),
                CONNECT_TIMEOUT_S,
            )
        except (OSError, asyncio.TimeoutError):
            link.stats.refused += 1
            reset_writer(writer)
            return
        set_nodelay(upstream[1])
        connection = Connection(link, (reader, writer), upstream)
        link.connections.add(connection)
        try:
            await connection.run()
        finally:
            link.connections.discard(connection)
