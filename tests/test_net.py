"""Ports the lab picks for servers that bind later: free, and out of the clients' way."""

from __future__ import annotations

import socket

from labsupport import _net


def test_a_picked_port_is_free_and_below_the_range_clients_are_given():
    low, _ = _net.ephemeral_range()
    ports = {_net.free_port() for _ in range(20)}
    assert all(_net.LOWEST_PICKED <= port < low for port in ports), sorted(ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # raises if it was not free


def test_a_port_in_use_is_never_picked(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        monkeypatch.setattr(_net, "LOWEST_PICKED", port)
        monkeypatch.setattr(_net, "ephemeral_range", lambda: (port + 1, 60999))
        # The only candidate is taken, so the kernel chooses instead.
        assert _net.free_port() != port


def test_with_no_room_below_the_range_the_kernel_chooses(monkeypatch):
    monkeypatch.setattr(_net, "ephemeral_range", lambda: (_net.LOWEST_PICKED, 60999))
    assert _net.free_port() >= _net.LOWEST_PICKED
