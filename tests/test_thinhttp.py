"""Tests for labsupport.thinhttp against a real uvicorn app and a few misbehaving raw servers."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from labsupport import serve_app
from labsupport.thinhttp import HttpProtocolError, ThinHttpClient

app = FastAPI()


@app.get("/orders/{order_id}")
def get_order(order_id: int) -> dict:
    return {"order_id": order_id, "sku": "mug-blue", "qty": 2}


@app.post("/echo")
async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(body, media_type=request.headers.get("content-type", "text/plain"))


@app.get("/stream")
def stream() -> StreamingResponse:
    return StreamingResponse((f"part-{i};" for i in range(50)), media_type="text/plain")


@app.delete("/orders/{order_id}", status_code=204)
def delete_order(order_id: int) -> Response:
    return Response(status_code=204)


@app.get("/bye")
def bye() -> Response:
    return Response("bye", headers={"Connection": "close"})


@pytest.fixture(scope="module")
def service():
    run = serve_app(app, name="thinhttp-test")
    yield run
    run.stop()


@pytest.fixture(autouse=True)
def _stop_services_after_each_test():
    """Keep the module's service running across tests (conftest stops all services otherwise)."""
    yield


def raw_server(reply: bytes | None, replies_per_connection: int = 1):
    """Serve `reply` to each request on a raw socket, then close; None means never answer."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                for _ in range(replies_per_connection):
                    if not conn.recv(65536):
                        break
                    if reply is None:
                        stop.wait(5)
                        break
                    conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    port = listener.getsockname()[1]
    return f"http://127.0.0.1:{port}", lambda: (stop.set(), listener.close())


def test_get_returns_status_and_body_like_httpx(service):
    with ThinHttpClient(service.url) as client:
        status, body = client.get("/orders/7")
    expected = httpx.get(f"{service.url}/orders/7")
    assert (status, body) == (expected.status_code, expected.content)
    assert client.last_headers["content-type"] == "application/json"


def test_one_connection_carries_many_requests(service):
    client = ThinHttpClient(service.url)
    client.get("/orders/1")
    first = client._sock
    for i in range(20):
        assert client.get(f"/orders/{i}")[0] == 200
    assert client._sock is first
    client.close()


def test_one_client_gives_each_thread_its_own_connection(service):
    from labsupport.measure import run_open_loop, status_errors

    client = ThinHttpClient(service.url)
    res = run_open_loop(
        status_errors(lambda: client.get("/orders/5")), rate_per_s=400, duration_s=0.5, workers=8
    )
    assert res.summary().count == 200
    assert res.errors_by_type() == {}
    assert 1 < len(client._all) <= 8
    client.close()
    assert client._all == [] and client._sock is None
    assert client.get("/orders/5")[0] == 200  # and it reconnects after close()


def test_post_sends_a_json_body_and_reads_the_reply(service):
    with ThinHttpClient(service.url) as client:
        status, body = client.request("POST", "/echo", body={"sku": "tea", "qty": 3})
        assert (status, body) == (200, b'{"sku": "tea", "qty": 3}')
        assert client.request("POST", "/echo", body="plain")[1] == b"plain"


def test_chunked_replies_are_joined(service):
    with ThinHttpClient(service.url) as client:
        status, body = client.get("/stream")
        assert client.last_headers.get("transfer-encoding") == "chunked"
        assert body == "".join(f"part-{i};" for i in range(50)).encode()
        assert client.get("/orders/2")[0] == 200  # the connection is still in step


def test_replies_without_a_body_do_not_wait_for_one(service):
    with ThinHttpClient(service.url, timeout_s=2) as client:
        assert client.request("DELETE", "/orders/3") == (204, b"")
        assert client.request("HEAD", "/orders/3")[1] == b""
        assert client.get("/orders/3")[0] == 200


def test_a_connection_close_reply_is_followed_by_a_fresh_connection(service):
    with ThinHttpClient(service.url) as client:
        assert client.get("/bye") == (200, b"bye")
        assert client._sock is None
        assert client.get("/orders/4")[0] == 200


def test_a_kept_alive_connection_the_server_dropped_is_retried_once():
    url, stop = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    try:
        client = ThinHttpClient(url, timeout_s=2)
        assert client.get("/") == (200, b"hi")
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # wait until the server has closed its side
            try:
                if client._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    break
            except BlockingIOError:
                time.sleep(0.01)
        assert client.get("/") == (200, b"hi")
    finally:
        stop()


def test_a_silent_server_raises_timeout_error():
    url, stop = raw_server(None)
    try:
        client = ThinHttpClient(url, timeout_s=0.2)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="no reply"):
            client.get("/")
        assert time.monotonic() - started < 3  # the timeout fired, not the server's own wait
    finally:
        stop()


def test_nothing_listening_gives_a_clear_error():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError, match="is the service started"):
        ThinHttpClient(f"http://127.0.0.1:{port}").get("/")


def test_a_reply_that_is_not_http_is_a_protocol_error():
    url, stop = raw_server(b"SSH-2.0-OpenSSH\r\n\r\n")
    try:
        with pytest.raises(HttpProtocolError, match="status line"):
            ThinHttpClient(url, timeout_s=2).get("/")
    finally:
        stop()


def test_urls_it_cannot_serve_are_refused():
    with pytest.raises(ValueError, match="use httpx for https"):
        ThinHttpClient("https://example.org")
    with pytest.raises(ValueError, match="timeout_s"):
        ThinHttpClient("http://127.0.0.1:1", timeout_s=0)
