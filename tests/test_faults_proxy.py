"""The chaos TCP proxy: each fault shows up at its configured rate, live, and counted."""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import threading
import time

import pytest
import redis

from labsupport import fresh_name, running_services, serve_grpc, serve_tcp, stop_all
from labsupport.demo import echo
from labsupport.faults import FaultyProxy


@pytest.fixture
def echo_target():
    with serve_tcp(echo, name="faults-echo") as run:
        yield run.target


@pytest.fixture
def proxy(echo_target):
    with FaultyProxy(echo_target, name="test-echo", seed=1) as proxy:
        yield proxy


def connect(proxy: FaultyProxy, timeout_s: float = 3.0) -> socket.socket:
    sock = socket.create_connection((proxy.host, proxy.port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, nbytes: int) -> tuple[bytes, int]:
    """Read nbytes; return them and how many reads it took."""
    chunks = []
    while (got := sum(map(len, chunks))) < nbytes:
        chunk = sock.recv(nbytes - got)
        if not chunk:
            raise ConnectionError(f"closed after {got} of {nbytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks), len(chunks)


def round_trip_ms(sock: socket.socket, message: bytes = b"ping") -> float:
    start = time.perf_counter()
    sock.sendall(message)
    assert recv_exactly(sock, len(message))[0] == message
    return (time.perf_counter() - start) * 1000


def exchange_once(proxy: FaultyProxy) -> bool:
    """Send one message on a new connection; return False if the proxy reset it."""
    try:
        with connect(proxy) as sock:
            round_trip_ms(sock)
        return True
    except (ConnectionResetError, BrokenPipeError):
        return False


def wait_until(condition, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_pass_through_forwards_bytes_unchanged_and_counts_them(proxy):
    payload = bytes(range(256)) * 40
    with connect(proxy) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload))[0] == payload
    wait_until(lambda: proxy.stats.connections_open == 0)
    stats = proxy.stats
    assert (stats.connections_total, stats.bytes_up, stats.bytes_down) == (1, 10240, 10240)


def test_pass_through_adds_far_less_than_a_millisecond(proxy, echo_target):
    host, port = echo_target.split(":")
    with socket.create_connection((host, int(port))) as direct, connect(proxy) as proxied:
        for sock in (direct, proxied):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pairs = [(round_trip_ms(direct), round_trip_ms(proxied)) for _ in range(200)]
    direct_p50 = statistics.median(d for d, _ in pairs)
    proxied_p50 = statistics.median(p for _, p in pairs)
    # Nagle or a slow path would add tens of milliseconds; 1 ms leaves room for a noisy host.
    assert proxied_p50 < direct_p50 + 1.0


def test_added_delay_shows_in_round_trips_and_not_much_more(proxy):
    proxy.set(delay_ms=40)
    with connect(proxy) as sock:
        samples = [round_trip_ms(sock) for _ in range(15)]
    assert 40 <= statistics.median(samples) < 40 * 1.5 + 10


def test_delay_in_both_directions_counts_twice_per_round_trip(proxy):
    proxy.set(delay_ms=25, direction="both")
    with connect(proxy) as sock:
        samples = [round_trip_ms(sock) for _ in range(10)]
    assert 50 <= statistics.median(samples) < 50 * 1.5 + 10


def test_jitter_spreads_round_trips_within_its_bounds(proxy):
    proxy.set(delay_ms=30, jitter_ms=20)
    with connect(proxy) as sock:
        samples = [round_trip_ms(sock) for _ in range(30)]
    assert min(samples) >= 10
    assert max(samples) - min(samples) > 15
    assert statistics.median(samples) < 30 * 1.5 + 10


def test_jittered_delay_keeps_the_byte_order_of_a_connection(proxy):
    proxy.set(delay_ms=5, jitter_ms=5, direction="both")
    messages = [f"<{i:04d}>".encode() for i in range(200)]
    with connect(proxy) as sock:
        for message in messages:
            sock.sendall(message)
        assert recv_exactly(sock, 6 * len(messages))[0] == b"".join(messages)


def test_changing_delay_acts_on_an_already_open_connection(proxy):
    with connect(proxy) as sock:
        before = statistics.median(round_trip_ms(sock) for _ in range(5))
        proxy.set(delay_ms=60)
        during = statistics.median(round_trip_ms(sock) for _ in range(5))
        proxy.reset()
        after = statistics.median(round_trip_ms(sock) for _ in range(5))
    assert during >= 60 > 10 * max(before, after)


def test_lowering_the_delay_releases_data_already_waiting(proxy):
    proxy.set(delay_ms=5000)
    with connect(proxy) as sock:
        sock.sendall(b"stuck")
        time.sleep(0.05)  # let the chunk enter the delay queue
        start = time.perf_counter()
        proxy.set(delay_ms=0)
        assert recv_exactly(sock, 5)[0] == b"stuck"
    assert time.perf_counter() - start < 2.0


def test_reset_prob_resets_about_that_share_of_new_connections(proxy):
    proxy.set(reset_prob=0.3)
    failures = sum(not exchange_once(proxy) for _ in range(300))
    assert 0.2 * 300 <= failures <= 0.4 * 300
    assert proxy.stats.resets == failures
    assert proxy.stats.connections_total == 300


def test_the_same_seed_resets_the_same_connections(echo_target):
    patterns = []
    for _ in range(2):
        with FaultyProxy(echo_target, seed=7, reset_prob=0.5) as proxy:
            patterns.append([exchange_once(proxy) for _ in range(40)])
    assert patterns[0] == patterns[1]
    assert 0 < sum(patterns[0]) < 40


def test_reset_chunk_prob_resets_a_connection_that_is_already_open(proxy):
    with connect(proxy) as sock:
        round_trip_ms(sock)
        proxy.set(reset_chunk_prob=0.2)
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            for _ in range(200):
                round_trip_ms(sock)
    assert proxy.stats.resets == 1


def test_cut_connections_resets_every_open_connection(proxy):
    socks = [connect(proxy) for _ in range(3)]
    for sock in socks:
        round_trip_ms(sock)
    assert proxy.cut_connections() == 3
    for sock in socks:
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            round_trip_ms(sock)
        sock.close()


def test_blackhole_makes_a_client_read_time_out_then_recovers(proxy):
    proxy.set(blackhole=True)
    with connect(proxy, timeout_s=0.3) as sock:
        sock.sendall(b"anyone there?")
        with pytest.raises(TimeoutError):
            sock.recv(100)
    assert proxy.stats.blackholed == 1
    proxy.set(blackhole=False)
    assert exchange_once(proxy)


def test_down_refuses_new_connections_and_cuts_open_ones(proxy):
    open_sock = connect(proxy)
    round_trip_ms(open_sock)
    proxy.set(down=True)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((proxy.host, proxy.port), timeout=1)
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        round_trip_ms(open_sock)
    open_sock.close()
    proxy.set(down=False)
    assert exchange_once(proxy)


def test_chunk_bytes_delivers_the_same_bytes_in_more_smaller_reads(proxy):
    payload = bytes(range(250)) * 4
    with connect(proxy) as sock:
        sock.sendall(payload)
        plain, plain_reads = recv_exactly(sock, len(payload))
        proxy.set(chunk_bytes=50)
        sock.sendall(payload)
        sliced, sliced_reads = recv_exactly(sock, len(payload))
    assert plain == sliced == payload
    assert sliced_reads >= 5 * plain_reads


def test_bandwidth_limit_slows_a_200_kb_transfer_about_as_configured(proxy):
    payload = b"x" * 200_000
    proxy.set(bandwidth_kbps=4000)  # 500 kB/s, so about 0.4 s for 200 kB
    expected_s = len(payload) / (4000 * 125)
    with connect(proxy, timeout_s=10) as sock:
        start = time.perf_counter()
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert recv_exactly(sock, len(payload))[0] == payload
        elapsed_s = time.perf_counter() - start
        sender.join(5)
    assert 0.7 * expected_s <= elapsed_s <= 2.5 * expected_s + 0.3


def test_unreachable_upstream_closes_the_client_and_says_what_to_check():
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        free_port = spare.getsockname()[1]
    with FaultyProxy(f"127.0.0.1:{free_port}") as proxy:
        assert not exchange_once(proxy)
        assert proxy.stats.refused == 1
        with pytest.raises(ConnectionError, match="is not accepting connections: is the service"):
            proxy.check_upstream()


def test_check_upstream_says_yes_when_the_service_listens(proxy):
    assert proxy.check_upstream() is True


def test_url_for_swaps_host_and_port_and_keeps_the_rest(proxy, echo_target):
    port = echo_target.split(":")[1]
    url = f"amqp://guest:guest@127.0.0.1:{port}/%2F?heartbeat=5"
    assert proxy.url_for(url) == f"amqp://guest:guest@{proxy.target}/%2F?heartbeat=5"
    with pytest.raises(ValueError, match="points at port 1"):
        proxy.url_for("redis://127.0.0.1:1/0")


def test_repr_reads_like_a_sentence(proxy, echo_target):
    proxy.set(delay_ms=50, jitter_ms=10)
    assert repr(proxy) == (
        f"<FaultyProxy 'test-echo' {proxy.target} -> {echo_target} (delay 50±10 ms)>"
    )
    proxy.stop()
    assert repr(proxy).endswith("(stopped)>")


def test_bad_knobs_get_errors_that_name_the_fix(proxy):
    with pytest.raises(TypeError, match="the knobs are delay_ms"):
        proxy.set(dealy_ms=5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        proxy.set(reset_prob=3)
    with pytest.raises(ValueError, match="host:port"):
        FaultyProxy("localhost")
    assert proxy.knobs.delay_ms == 0


def test_reset_puts_every_knob_back_to_pass_through(proxy):
    proxy.set(delay_ms=10, blackhole=True, chunk_bytes=3, reset_prob=0.1)
    proxy.reset()
    assert "pass-through" in repr(proxy)
    assert exchange_once(proxy)


def test_a_new_proxy_with_the_same_name_replaces_the_old_one(proxy, echo_target):
    replacement = FaultyProxy(echo_target, name="test-echo")
    try:
        assert "stopped" in repr(proxy)
        assert exchange_once(replacement)
    finally:
        replacement.stop()


@pytest.mark.broker
def test_redis_through_the_proxy_feels_its_delay_and_its_outage(redis_broker):
    with FaultyProxy(redis_broker, name="redis") as proxy:
        r = redis.Redis.from_url(proxy.url_for(redis_broker.url), socket_timeout=2)
        key = fresh_name("faults.proxy")
        assert r.set(key, "placed") and r.get(key) == b"placed"
        proxy.set(delay_ms=30)
        start = time.perf_counter()
        assert r.ping()
        assert (time.perf_counter() - start) * 1000 >= 30
        proxy.set(down=True)
        with pytest.raises(redis.ConnectionError):
            r.ping()
        proxy.set(down=False)
        assert r.delete(key) == 1
        r.close()


def test_grpc_calls_cross_the_proxy_and_feel_its_delay():
    grpc = pytest.importorskip("grpc")

    def add_say(servicer, server) -> None:
        say = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("lab.Echo", {"Say": say}),)
        )

    with serve_grpc(None, add_say, name="echo") as run, FaultyProxy(run) as proxy:
        with grpc.insecure_channel(proxy.target) as channel:
            say = channel.unary_unary("/lab.Echo/Say")
            assert say(b"hi", timeout=5) == b"hi"
            proxy.set(delay_ms=30)
            start = time.perf_counter()
            assert say(b"hi", timeout=5) == b"hi"
            assert (time.perf_counter() - start) * 1000 >= 30
            proxy.set(down=True)
            with pytest.raises(grpc.RpcError) as caught:
                say(b"hi", timeout=2)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_importing_the_faults_package_does_not_load_grpc():
    code = "import labsupport.faults, sys; print('grpc' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_stop_all_stops_proxies_like_any_served_thing(echo_target):
    proxy = FaultyProxy(echo_target, name="forgotten")
    assert any(run.kind == "proxy" and run.name == "forgotten" for run in running_services())
    stop_all()
    assert "stopped" in repr(proxy)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((proxy.host, proxy.port), timeout=1)
