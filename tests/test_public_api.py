"""The public API is what __init__ exports, sorted, and every name is real."""

from __future__ import annotations

import labsupport


def test_all_is_sorted_and_every_name_exists():
    assert labsupport.__all__ == sorted(labsupport.__all__)
    for name in labsupport.__all__:
        assert hasattr(labsupport, name), name


def test_importing_labsupport_creates_no_grpc_state():
    import subprocess
    import sys

    code = "import labsupport, sys; print('grpc' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_loopback_is_kept_off_http_proxies():
    import os

    assert "127.0.0.1" in os.environ["no_proxy"].split(",")


# Every package's __all__ (sorted, real, complete) is checked in tests/test_layout.py.
