"""Run servers beside the notebook's kernel: loop threads, the Running handle, stop_all.

The kernel already owns an asyncio loop, and a server on that loop deadlocks any
blocking client called from a cell. So every server gets a thread with a loop of its
own, and every server, whatever its kind, comes back as the same `Running` handle.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from . import config


class LoopThread:
    """Own an asyncio event loop running in a daemon thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=f"lab-loop-{name}", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future:
        """Schedule coro on this loop and return a concurrent future for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, Any], timeout_s: float = 10.0) -> Any:
        """Run coro on this loop and wait at most timeout_s for its result."""
        return self.submit(coro).result(timeout=timeout_s)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel what is still running, stop the loop and join the thread."""
        if self.loop.is_closed():
            return

        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            try:
                self.run(cancel_rest(), timeout_s=timeout_s)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=timeout_s)
        if not self._thread.is_alive():
            self.loop.close()


class Running:
    """A service started by the lab: where it listens and how to stop it."""

    def __init__(
        self,
        kind: str,
        name: str,
        port: int,
        stop: Callable[[], None],
        *,
        scheme: str | None = None,
        pid: int | None = None,
        isolated: bool = False,
        kill: Callable[[], None] | None = None,
    ) -> None:
        self.kind, self.name, self.port = kind, name, port
        self.host = config.HOST
        self.target = f"{self.host}:{port}"
        self.url = f"{scheme}://{self.target}" if scheme else None
        self.isolated = isolated
        self.pid = pid
        self._stop, self._kill = stop, kill
        self.stopped = False
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Stop the service; calling it again does nothing."""
        with self._lock:
            if self.stopped:
                return
            self.stopped = True
        try:
            self._stop()
        finally:
            if _registry.get((self.kind, self.name)) is self:
                del _registry[(self.kind, self.name)]

    def kill(self) -> None:
        """Kill the service's process with SIGKILL (isolated services only), as a crash would."""
        if self._kill is None:
            raise TypeError(
                f"{self!r} runs inside this kernel; kill() needs serve_app(..., isolated=True). "
                "Use .stop() here."
            )
        self._kill()
        self.stop()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = " (stopped)" if self.stopped else ""
        where = " in its own process" if self.isolated else ""
        return f"<Running {self.kind} {self.name!r} at {self.url or self.target}{where}{state}>"


_registry: dict[tuple[str, str], Running] = {}
_registry_lock = threading.Lock()


def replace_running(kind: str, name: str) -> None:
    """Stop the service already running under (kind, name), as a re-run cell expects."""
    with _registry_lock:
        old = _registry.pop((kind, name), None)
    if old is not None:
        old.stop()


def register(running: Running) -> Running:
    """Remember a started service so stop_all() and re-runs can find it."""
    with _registry_lock:
        _registry[(running.kind, running.name)] = running
    return running


def running_services() -> list[Running]:
    """List the services this kernel has running."""
    return list(_registry.values())


def stop_all() -> None:
    """Stop every service this kernel started."""
    for running in list(_registry.values()):
        try:
            running.stop()
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            print(f"could not stop {running!r}: {exc}")


atexit.register(stop_all)
