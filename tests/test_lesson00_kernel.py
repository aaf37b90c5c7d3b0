"""Lesson 00 in a real kernel: it runs twice in a row, and killing the kernel leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from labsupport import _procs, config

pytestmark = pytest.mark.broker
LESSON_00 = config.REPO_ROOT / "notebooks" / "00_lab_check.ipynb"


def _code_cells(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _run_cells(client, cells: list[str], timeout_s: float = 120) -> None:
    for source in cells:
        errors = []

        def keep_errors(msg, errors=errors):
            if msg["msg_type"] == "error":
                errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        reply = client.execute_interactive(source, timeout=timeout_s, output_hook=keep_errors)
        assert reply["content"]["status"] == "ok", f"{source[:60]!r} failed: {errors}"


@pytest.fixture
def own_lab_kernel(tmp_path):
    """A kernel with a lab folder of its own, so it starts (and owns) its own brokers."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "AMQP_URL")}
    env["LAB_DIR"] = str(tmp_path)
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(LESSON_00.parent))
    yield manager, client, tmp_path
    client.stop_channels()
    if manager.is_alive():
        manager.shutdown_kernel(now=True)


def test_lesson_00_runs_twice_in_one_kernel_and_a_kill_9_of_it_leaves_no_broker(own_lab_kernel):
    manager, client, lab = own_lab_kernel
    cells = _code_cells(LESSON_00)
    _run_cells(client, cells)
    _run_cells(client, cells)  # a learner's "Run All" again: nothing left over breaks it

    records = [json.loads(p.read_text()) for p in (lab / "pids").glob("*.json")]
    labels = {r["label"] for r in records}
    assert {"redis-server", "rabbitmq", "epmd"} <= labels, labels
    pids = [r["pid"] for r in records]
    os.kill(manager.provisioner.process.pid, signal.SIGKILL)
    still = lambda: [p for p in pids if _procs.pid_alive(p)]  # noqa: E731
    assert _procs.wait_until(lambda: not still(), timeout_s=10), f"still running: {still()}"
