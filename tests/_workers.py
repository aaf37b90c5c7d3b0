"""Worker functions for tests: spawned processes import them by name, so they live here."""

from __future__ import annotations

import os
import time
from pathlib import Path


def wait_in_a_loop(folder: str) -> None:
    """Write `started`, loop until stopped, and write `cleaned-up` on the way out."""
    path = Path(folder)
    # Written whole, then renamed: a test that sees `started` never reads it half written.
    (path / "started.tmp").write_text(str(os.getpid()))
    os.replace(path / "started.tmp", path / "started")
    try:
        for _ in range(600):  # bounded: at most a minute even if nobody stops it
            time.sleep(0.1)
    finally:
        (path / "cleaned-up").write_text("yes")


def start_a_worker_then_wait(folder: str) -> None:
    """Be a parent: start a worker, print its pid, then wait to be killed."""
    from labsupport.faults import start_worker

    worker = start_worker(wait_in_a_loop, folder, name="orphan")
    print(worker.pid, flush=True)
    time.sleep(60)
