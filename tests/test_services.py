"""serve_app, serve_tcp and serve_grpc: real servers on loopback, one handle shape."""

from __future__ import annotations

import logging
import socket
import statistics
import threading
import time

import httpx
import pytest
from fastapi import FastAPI

from labsupport import running_services, serve_app, serve_grpc, serve_tcp, stop_all
from labsupport.demo import app as demo_app
from labsupport.demo import echo


def _round_trips_ms(host: str, port: int, count: int = 300) -> list[float]:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            sock.sendall(b"ping")
            assert sock.recv(16) == b"ping"
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def test_served_app_answers_on_loopback_with_a_readable_handle():
    run = serve_app(demo_app, name="orders")
    assert run.url.startswith("http://127.0.0.1:")
    assert repr(run) == f"<Running rest 'orders' at {run.url}>"
    assert httpx.get(f"{run.url}/orders/1").json()["sku"] == "mug-blue"
    assert httpx.get(f"{run.url}/orders/999").status_code == 404


def test_rerunning_a_cell_replaces_the_server():
    first = serve_app(demo_app, name="orders")
    second = serve_app(demo_app, name="orders")
    assert first.stopped and not second.stopped
    assert [r for r in running_services() if r.name == "orders"] == [second]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{first.url}/health", timeout=1)
    assert httpx.get(f"{second.url}/health").status_code == 200


def test_stop_all_stops_every_kind_of_service():
    services = [serve_app(demo_app, name="a"), serve_tcp(echo, name="b")]
    stop_all()
    assert all(s.stopped for s in services)
    assert running_services() == []


def _p10(samples: list[float]) -> float:
    # Nagle + delayed ACK stalls every request ~40 ms; a healthy loopback call takes ~1 ms.
    # A busy machine slows many requests but not the fastest tenth, which a stall would.
    return statistics.quantiles(samples, n=10)[0]


def test_loopback_rest_calls_take_a_few_milliseconds_not_a_nagle_stall():
    run = serve_app(demo_app, name="orders")
    with httpx.Client() as client:
        samples = []
        for _ in range(200):
            start = time.perf_counter()
            client.get(f"{run.url}/health")
            samples.append((time.perf_counter() - start) * 1000)
    assert _p10(samples) < 20, (
        f"p10 {_p10(samples):.1f} ms, median {statistics.median(samples):.1f}"
    )


def test_tcp_echo_round_trip_has_no_nagle_artefact():
    run = serve_tcp(echo, name="echo")
    samples = _round_trips_ms(run.host, run.port)
    assert _p10(samples) < 20, (
        f"p10 {_p10(samples):.1f} ms, median {statistics.median(samples):.1f}"
    )


def test_serve_tcp_refuses_a_plain_function_with_a_clear_error():
    def handler(reader, writer):
        pass

    with pytest.raises(TypeError, match="async def handler"):
        serve_tcp(handler, name="bad")


def test_serve_tcp_takes_an_object_with_an_async_call():
    class Echo:
        async def __call__(self, reader, writer):
            writer.write(await reader.readexactly(3))
            await writer.drain()

    run = serve_tcp(Echo(), name="echo-object")
    with socket.create_connection((run.host, run.port), timeout=5) as sock:
        sock.sendall(b"abc")
        assert sock.recv(3) == b"abc"


def test_stopping_a_tcp_server_with_a_client_connected_logs_no_error(caplog):
    serving = threading.Event()

    async def waits_forever(reader, writer):
        serving.set()
        await reader.read()

    run = serve_tcp(waits_forever, name="idle")
    with socket.create_connection((run.host, run.port), timeout=5):
        assert serving.wait(5)
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            run.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_isolated_app_runs_in_its_own_process_and_can_be_killed():
    import os

    run = serve_app("labsupport.demo:app", name="iso", isolated=True)
    assert run.isolated and run.pid != os.getpid()
    assert httpx.get(f"{run.url}/health").json() == {"ok": True}
    run.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{run.url}/health", timeout=1)


def test_isolated_needs_an_import_string():
    with pytest.raises(TypeError, match="import string"):
        serve_app(FastAPI(), name="x", isolated=True)


def test_kill_on_an_in_kernel_service_says_what_to_do():
    run = serve_app(demo_app, name="orders")
    with pytest.raises(TypeError, match="isolated=True"):
        run.kill()


def test_grpc_server_answers_and_a_rerun_does_not_share_the_port():
    import grpc

    def add(servicer, server):
        handler = grpc.unary_unary_rpc_method_handler(
            servicer, request_deserializer=bytes, response_serializer=bytes
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("shop.Echo", {"Say": handler}),)
        )

    first = serve_grpc(lambda request, context: b"first:" + request, add, name="shop")
    second = serve_grpc(lambda request, context: b"second:" + request, add, name="shop")
    assert first.stopped
    with grpc.insecure_channel(second.target) as channel:
        say = channel.unary_unary("/shop.Echo/Say")
        replies = {say(b"x", timeout=5) for _ in range(20)}
    assert replies == {b"second:x"}
