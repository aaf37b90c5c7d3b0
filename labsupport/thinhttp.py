"""Speak HTTP/1.1 over kept-alive sockets, with as little Python per request as possible.

Lessons teach with httpx; this client exists to measure services without measuring a
client library: against the same uvicorn app it stays within a few percent of
`wrk -c1 -t1`, where httpx costs several times more (RUNTIME-NOTES).

    client = ThinHttpClient("http://127.0.0.1:8000")
    status, body = client.get("/health")

Each thread gets its own connection, so one client can serve every worker of an
open loop (`run_open_loop(lambda: client.get("/health"), workers=32)`).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from urllib.parse import urlsplit


class HttpProtocolError(ConnectionError):
    """Signal a reply that is not the HTTP/1.1 this client understands."""


class _StaleConnection(ConnectionError):
    """The server closed a kept-alive connection before answering: safe to retry once."""


class ThinHttpClient:
    """Send HTTP/1.1 requests over keep-alive TCP connections (TCP_NODELAY, plain http only)."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(
                f"ThinHttpClient needs an http://host:port URL, got {url!r} (use httpx for https)"
            )
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._all: list[_Connection] = []
        self._lock = threading.Lock()
        self._get_cache: dict[str, bytes] = {}

    def get(self, path: str = "/") -> tuple[int, bytes]:
        """Send a GET and return `(status, body)`."""
        request = self._get_cache.get(path)
        if request is None:
            request = self._build("GET", path, b"", {})
            if len(self._get_cache) < 1024:  # a few hot paths, not every order id ever asked
                self._get_cache[path] = request
        return self._exchange(request, head=False)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict | list | None = None,
        headers: dict | None = None,
    ) -> tuple[int, bytes]:
        """Send any method; a dict or list body is sent as JSON. Return `(status, body)`."""
        headers = dict(headers or {})
        if isinstance(body, dict | list):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        request = self._build(method.upper(), path, body or b"", headers)
        return self._exchange(request, head=method.upper() == "HEAD")

    @property
    def last_headers(self) -> dict[str, str]:
        """Return the headers of this thread's last reply, names lowered."""
        conn = getattr(self._local, "conn", None)
        head = conn.head if conn is not None else getattr(self._local, "head", b"")
        pairs = (line.partition(b":") for line in head.split(b"\r\n")[1:])
        return {k.strip().lower().decode(): v.strip().decode("latin-1") for k, _, v in pairs}

    @property
    def _sock(self) -> socket.socket | None:
        """This thread's open socket, or None."""
        conn = getattr(self._local, "conn", None)
        return conn.sock if conn is not None else None

    def _build(self, method: str, path: str, body: bytes, headers: dict) -> bytes:
        lines = [f"{method} {self.prefix}{path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _exchange(self, request: bytes, head: bool) -> tuple[int, bytes]:
        conn = getattr(self._local, "conn", None)
        reused = conn is not None
        try:
            if conn is None:
                conn = self._local.conn = self._open()
            reply = conn.exchange(request, head)
            if conn.sock is None:  # the server said Connection: close
                self._forget(conn)
            return reply
        except _StaleConnection as exc:
            self._forget(conn)
            if not reused:
                raise ConnectionError(
                    f"{self.host}:{self.port} closed the connection without a reply"
                ) from exc
        except BlockingIOError as exc:  # SO_RCVTIMEO/SO_SNDTIMEO ran out
            self._forget(conn)
            raise TimeoutError(
                f"no reply from {self.host}:{self.port} within {self.timeout_s} s"
            ) from exc
        except OSError:
            self._forget(conn)
            raise
        return self._exchange(request, head)  # once, on a fresh connection

    def _open(self) -> _Connection:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except ConnectionRefusedError as exc:
            raise ConnectionRefusedError(
                f"nothing listens on {self.host}:{self.port}: is the service started?"
            ) from exc
        except TimeoutError as exc:
            raise TimeoutError(
                f"connecting to {self.host}:{self.port} took over {self.timeout_s} s"
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Kernel-side timeouts keep the socket blocking: no extra poll() per recv.
        sock.settimeout(None)
        seconds = int(self.timeout_s)
        timeval = struct.pack("ll", seconds, int((self.timeout_s - seconds) * 1e6))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        conn = _Connection(sock, f"{self.host}:{self.port}")
        with self._lock:
            self._all.append(conn)
        return conn

    def _forget(self, conn: _Connection | None) -> None:
        if conn is not None:
            self._local.head = conn.head
            conn.close()
            with self._lock:
                self._all = [c for c in self._all if c is not conn]
        self._local.conn = None

    def close(self) -> None:
        """Close every connection this client opened (in any thread); the next request reconnects."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    def __enter__(self) -> ThinHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<ThinHttpClient http://{self.host}:{self.port}{self.prefix} ({len(self._all)} open)>"
        )


class _Connection:
    """One socket, its unread bytes, and the header block of its last reply."""

    __slots__ = ("sock", "where", "buf", "head")

    def __init__(self, sock: socket.socket, where: str) -> None:
        self.sock: socket.socket | None = sock
        self.where, self.buf, self.head = where, b"", b""

    def exchange(self, request: bytes, head: bool) -> tuple[int, bytes]:
        if self.sock is None:  # closed by ThinHttpClient.close() from another thread
            raise _StaleConnection()
        try:
            self.sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _StaleConnection() from exc
        return self.read_response(head)

    def fill(self, buf: bytes, started: bool = True) -> bytes:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError as exc:
            if not started:
                raise _StaleConnection() from exc
            raise
        if not chunk:
            if not started:
                raise _StaleConnection()
            raise ConnectionError(f"{self.where} closed the connection mid-reply")
        return buf + chunk

    def read_response(self, head: bool) -> tuple[int, bytes]:
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf = self.fill(buf, started=bool(buf))
        # Look headers up in one lowered copy instead of building a dict per reply.
        self.head, low = buf[:end], buf[:end].lower() + b"\r\n"
        if not low.startswith(b"http/1.") or not low[9:12].isdigit():
            raise HttpProtocolError(f"not an HTTP/1.x status line: {buf[:80]!r}")
        status, buf = int(low[9:12]), buf[end + 4 :]
        if head or status in (204, 304) or status < 200:
            body = b""
        elif b"chunked" in _header(low, b"transfer-encoding"):
            body, buf = self.read_chunked(buf)
        elif length := _header(low, b"content-length"):
            if not length.isdigit():
                raise HttpProtocolError(f"bad Content-Length {length[:40]!r}")
            size = int(length)
            while len(buf) < size:
                buf = self.fill(buf)
            body, buf = buf[:size], buf[size:]
        else:  # no length: the body runs until the server closes
            while chunk := self.sock.recv(65536):
                buf += chunk
            body, buf, low = buf, b"", b"\r\nconnection: close\r\n"
        self.buf = buf
        if _header(low, b"connection") == b"close":
            self.close()
        return status, body

    def read_chunked(self, buf: bytes) -> tuple[bytes, bytes]:
        parts = []
        while True:
            while (eol := buf.find(b"\r\n")) < 0:
                buf = self.fill(buf)
            try:
                size = int(buf[:eol].split(b";")[0], 16)
            except ValueError:
                raise HttpProtocolError(f"bad chunk size line {buf[:eol][:40]!r}") from None
            buf = buf[eol + 2 :]
            if size == 0:
                # Skip trailer lines up to the blank line that ends the message.
                while (eol := buf.find(b"\r\n")) != 0:
                    buf = self.fill(buf) if eol < 0 else buf[eol + 2 :]
                return b"".join(parts), buf[2:]
            while len(buf) < size + 2:
                buf = self.fill(buf)
            parts.append(buf[:size])
            buf = buf[size + 2 :]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock, self.buf = None, b""


def _header(low_head: bytes, name: bytes) -> bytes:
    """Find a header's value in a lowered header block ending in CRLF; b"" when absent."""
    at = low_head.find(b"\r\n" + name + b":")
    if at < 0:
        return b""
    start = at + len(name) + 3
    return low_head[start : low_head.find(b"\r\n", start)].strip()
