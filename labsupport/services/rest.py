"""Serve an ASGI app (FastAPI) with real uvicorn, in a thread or in its own process."""

from __future__ import annotations

import signal
import sys
from typing import Any

import uvicorn

from .. import _net, _procs, _runtime, config


def serve_app(app: Any, name: str = "app", *, isolated: bool = False) -> _runtime.Running:
    """Start app under uvicorn on 127.0.0.1 and a free port; return its Running handle.

    `app` is an ASGI object (served in a thread of this kernel) or an import string such
    as "labsupport.demo:app". With isolated=True the import string runs in a process of
    its own, so the service no longer shares this kernel's GIL (lesson 00 shows why
    that matters). Re-running with the same name replaces the old instance.
    """
    _runtime.replace_running("rest", name)
    if isolated:
        if not isinstance(app, str):
            raise TypeError(
                "isolated=True needs an import string such as 'labsupport.demo:app', "
                "because the other process must import the app itself"
            )
        return _runtime.register(_serve_in_process(app, name))
    return _runtime.register(_serve_in_thread(app, name))


def _config(app: Any, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=config.HOST,
        port=port,
        log_level="warning",
        access_log=False,  # the access log costs 9-19% throughput and floods cells
        lifespan="auto",
        loop="asyncio",
    )


def _serve_in_thread(app: Any, name: str) -> _runtime.Running:
    # port=0 lets uvicorn bind the socket itself, which keeps TCP_NODELAY (RUNTIME-NOTES).
    server = uvicorn.Server(_config(app, port=0))
    loop_thread = _runtime.LoopThread(f"rest-{name}")
    done = loop_thread.submit(server.serve())
    if not _procs.wait_until(lambda: server.started or done.done(), timeout_s=15):
        server.should_exit = True
        loop_thread.stop()
        raise RuntimeError(f"the app {name!r} did not start within 15 s")
    if not server.started:
        loop_thread.stop()
        error = done.exception()
        raise RuntimeError(f"the app {name!r} failed to start: {error!r}") from error
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        try:
            done.result(timeout=5)
        except Exception:  # noqa: BLE001 - force the loop down below
            server.force_exit = True
        loop_thread.stop()

    return _runtime.Running("rest", name, port, stop, scheme="http")


def _serve_in_process(app_path: str, name: str) -> _runtime.Running:
    port = _net.free_port()
    argv = [sys.executable, "-m", "uvicorn", app_path, "--host", config.HOST, "--port", str(port)]
    argv += ["--log-level", "warning", "--no-access-log", "--loop", "asyncio"]
    log_path = config.lab_dir() / f"service-{name}.log"
    proc = _procs.spawn(argv, label=f"rest {name}", log_path=log_path)
    up = _procs.wait_until(
        lambda: proc.poll() is not None or _net.port_open(config.HOST, port), timeout_s=30
    )
    if not up or proc.poll() is not None:
        _procs.terminate(proc, timeout_s=2)
        tail = log_path.read_text(errors="replace")[-800:] if log_path.exists() else ""
        raise RuntimeError(f"{app_path} did not start in its own process.\n{tail}")

    def kill() -> None:
        _procs.terminate(proc, timeout_s=5, sig=signal.SIGKILL)

    def stop() -> None:
        _procs.terminate(proc, timeout_s=5)

    return _runtime.Running(
        "rest", name, port, stop, scheme="http", pid=proc.pid, isolated=True, kill=kill
    )


__all__ = ["serve_app"]
