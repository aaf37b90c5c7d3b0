"""gRPC fault interceptor on a real grpcio server, for unary and streaming handlers."""

from __future__ import annotations

import statistics
import time

import grpc
import pytest

from labsupport import serve_grpc
from labsupport.faults import GrpcFaultInterceptor

SERVICE = "lab.Echo"


def _say(request: bytes, context) -> bytes:
    return request


def _count(request: bytes, context):
    for i in range(3):
        yield request + str(i).encode()


def _join(request_iterator, context) -> bytes:
    return b"".join(request_iterator)


def _chat(request_iterator, context):
    yield from request_iterator


def add_echo_service(servicer, server) -> None:
    # Raw bytes in and out: generic handlers need no .proto for a test service.
    handlers = {
        "Say": grpc.unary_unary_rpc_method_handler(_say),
        "Count": grpc.unary_stream_rpc_method_handler(_count),
        "Join": grpc.stream_unary_rpc_method_handler(_join),
        "Chat": grpc.stream_stream_rpc_method_handler(_chat),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@pytest.fixture
def faults():
    return GrpcFaultInterceptor(seed=1)


@pytest.fixture
def channel(faults):
    with serve_grpc(None, add_echo_service, name="faulty-echo", interceptors=[faults]) as run:
        with grpc.insecure_channel(run.target, options=[("grpc.enable_http_proxy", 0)]) as ch:
            yield ch


def call(channel: grpc.Channel, kind: str) -> list[bytes]:
    """Make one call of the given kind and return what came back."""
    method = f"/{SERVICE}/{kind}"
    if kind == "Say":
        return [channel.unary_unary(method)(b"hi", timeout=5)]
    if kind == "Count":
        return list(channel.unary_stream(method)(b"n", timeout=5))
    if kind == "Join":
        return [channel.stream_unary(method)(iter([b"a", b"b"]), timeout=5)]
    return list(channel.stream_stream(method)(iter([b"x", b"y"]), timeout=5))


def status_of(channel: grpc.Channel, kind: str = "Say") -> grpc.StatusCode:
    try:
        call(channel, kind)
        return grpc.StatusCode.OK
    except grpc.RpcError as error:
        return error.code()


def test_unavailable_rate_fails_about_that_share_of_calls(faults, channel):
    faults.set(unavailable_rate=0.3)
    codes = [status_of(channel) for _ in range(300)]
    failed = codes.count(grpc.StatusCode.UNAVAILABLE)
    assert 0.2 * 300 <= failed <= 0.4 * 300
    assert failed + codes.count(grpc.StatusCode.OK) == 300
    assert (faults.stats.requests, faults.stats.errors_injected) == (300, failed)


@pytest.mark.parametrize("kind", ["Say", "Count", "Join", "Chat"])
def test_every_kind_of_handler_can_be_failed_and_then_works_again(faults, channel, kind):
    faults.set(unavailable_rate=1.0)
    assert status_of(channel, kind) == grpc.StatusCode.UNAVAILABLE
    faults.set(unavailable_rate=0.0)
    expected = {
        "Say": [b"hi"],
        "Count": [b"n0", b"n1", b"n2"],
        "Join": [b"ab"],
        "Chat": [b"x", b"y"],
    }[kind]
    assert call(channel, kind) == expected


def test_a_chosen_status_and_details_reach_the_client(faults, channel):
    faults.set(unavailable_rate=1.0, status="resource_exhausted", details="slow down")
    with pytest.raises(grpc.RpcError) as caught:
        call(channel, "Say")
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.details() == "slow down"


def test_delay_shows_in_call_latency_and_can_be_removed_live(faults, channel):
    say = channel.unary_unary(f"/{SERVICE}/Say")
    say(b"warm up", timeout=5)

    def median_ms() -> float:
        samples = []
        for _ in range(10):
            start = time.perf_counter()
            say(b"hi", timeout=5)
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)

    faults.set(delay_ms=40)
    slow = median_ms()
    faults.reset()
    fast = median_ms()
    assert 40 <= slow < 40 * 1.5 + 15
    assert fast < slow / 4


def test_a_delay_longer_than_the_deadline_gives_deadline_exceeded(faults, channel):
    faults.set(delay_ms=500)
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(f"/{SERVICE}/Say")(b"hi", timeout=0.1)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_bad_status_is_refused_with_the_list_of_codes():
    with pytest.raises(ValueError, match="not a gRPC status"):
        GrpcFaultInterceptor(status="NOPE")
    with pytest.raises(ValueError, match="other than OK"):
        GrpcFaultInterceptor(status=grpc.StatusCode.OK)
