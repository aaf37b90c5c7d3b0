"""BackgroundLoad: steady traffic a learner can steer, measured like any open loop."""

from __future__ import annotations

import pytest

from labsupport import _procs, serve_tcp
from labsupport.demo import echo
from labsupport.faults import FaultyProxy
from labsupport.plots import BackgroundLoad


class EchoCall:
    """One blocking round trip through whatever sits at host:port."""

    def __init__(self, host: str, port: int) -> None:
        import socket
        import threading

        self.address, self.local, self.socket = (host, port), threading.local(), socket

    def __call__(self) -> None:
        sock = getattr(self.local, "sock", None)
        if sock is None:
            sock = self.local.sock = self.socket.create_connection(self.address, timeout=2)
            sock.setsockopt(self.socket.IPPROTO_TCP, self.socket.TCP_NODELAY, 1)
        try:
            sock.sendall(b"ping")
            reply = b""
            while len(reply) < 4:  # TCP may hand the echo over in pieces
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    raise ConnectionError("the echo server closed the connection")
                reply += chunk
            assert reply == b"ping", reply
        except BaseException:
            # A late or partial echo left on this socket would answer the next call at once.
            self.local.sock = None
            sock.close()
            raise


def test_a_knob_turned_while_it_runs_shows_up_in_what_it_measured(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_PLOTS_DIR", str(tmp_path))
    upstream = serve_tcp(echo, name="bg-echo")
    with FaultyProxy(upstream=upstream.target, name="bg-proxy", seed=1) as proxy:
        load = BackgroundLoad(EchoCall(proxy.host, proxy.port), rate_per_s=50, title="bg test")
        load.start()
        assert _procs.wait_until(lambda: len(load.records) >= 40, timeout_s=10)
        proxy.set(delay_ms=40)
        # Not records[-1]: records arrive a whole segment (1 s) at a time, so the last one
        # can lie up to a segment before the turn (CI: a 2.4 ms "after" reply on a busy run).
        changed_at = load.now_s()
        assert _procs.wait_until(
            lambda: load.records[-1].intended_s > changed_at + 1.0, timeout_s=10
        )
        result = load.stop()
    ok = [r for r in result.records if r.ok]
    before = [r.latency_s * 1000 for r in ok if r.intended_s < changed_at]
    after = [r.latency_s * 1000 for r in ok if r.intended_s > changed_at + 0.6]
    # Latency counts from the intended send time, so a backlog on a busy machine can lift
    # even the median before the turn; the fastest request shows the proxy's floor.
    assert min(after) >= 35 > min(before), (min(before), min(after))
    intended = [r.intended_s for r in result.records]
    assert intended == sorted(intended), "segments must join into one timeline"
    assert not load.running
    assert list(tmp_path.glob("bg-test*.png")), "the final frame is saved"


def test_it_stops_by_itself_after_max_s(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_PLOTS_DIR", str(tmp_path))
    upstream = serve_tcp(echo, name="bg-echo")
    load = BackgroundLoad(EchoCall(upstream.host, upstream.port), rate_per_s=20, max_s=1.0)
    load.start()
    assert _procs.wait_until(lambda: not load.running, timeout_s=10)
    assert 10 <= len(load.stop().records) <= 40


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        BackgroundLoad(lambda: None, rate_per_s=0)
