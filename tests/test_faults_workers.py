"""Worker processes that die for real, and consumers that crash mid-message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _workers
import pytest

from labsupport.faults import ConsumerCrashed, CrashAfter, crash_after, start_worker

TESTS_DIR = Path(__file__).resolve().parent


def wait_until(condition, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def is_gone(pid: int) -> bool:
    """Tell whether pid has exited (a zombie left for init to reap counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_kill_is_a_real_death_with_no_cleanup(tmp_path):
    worker = start_worker(_workers.wait_in_a_loop, str(tmp_path), name="billing")
    try:
        wait_until((tmp_path / "started").exists)
        assert worker.alive
        worker.kill()
        assert worker.exitcode == -signal.SIGKILL
        assert not worker.alive
        assert not (tmp_path / "cleaned-up").exists()
        assert "killed by SIGKILL" in repr(worker)
    finally:
        worker.stop()


def test_stop_lets_the_worker_clean_up(tmp_path):
    with start_worker(_workers.wait_in_a_loop, str(tmp_path), name="billing") as worker:
        wait_until((tmp_path / "started").exists)
        assert int((tmp_path / "started").read_text()) == worker.pid != os.getpid()
        worker.stop()
    assert worker.exitcode == 0
    assert (tmp_path / "cleaned-up").read_text() == "yes"


def test_the_worker_dies_when_its_parent_is_killed(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), str(TESTS_DIR.parent)])}
    code = f"import _workers; _workers.start_a_worker_then_wait({str(tmp_path)!r})"
    parent = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until((tmp_path / "started").exists)
        worker_pid = int((tmp_path / "started").read_text())
        assert not is_gone(worker_pid)
        parent.kill()
        parent.wait(5)
        wait_until(lambda: is_gone(worker_pid), timeout_s=5)
    finally:
        parent.kill()
        parent.wait(5)


def test_starting_a_worker_with_a_taken_name_stops_the_old_one(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = start_worker(_workers.wait_in_a_loop, str(tmp_path / "a"), name="billing")
    wait_until((tmp_path / "a" / "started").exists)
    second = start_worker(_workers.wait_in_a_loop, str(tmp_path / "b"), name="billing")
    try:
        assert first.exitcode == 0
        assert second.alive
    finally:
        second.stop()


def test_functions_that_spawn_cannot_import_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="top level of a module file"):
        start_worker(lambda: None)

    def local_consumer() -> None:
        pass

    with pytest.raises(ValueError, match="local_consumer"):
        start_worker(local_consumer)


def test_crash_after_raises_on_the_nth_message_only():
    handled = []
    callback = crash_after(3)(handled.append)
    callback("m1")
    callback("m2")
    with pytest.raises(ConsumerCrashed, match="message 3"):
        callback("m3")
    callback("m4")
    assert handled == ["m1", "m2", "m4"]


def test_crash_after_can_be_ticked_inside_a_callback():
    crash = CrashAfter(2)
    crash.tick()
    assert not crash.crashed
    with pytest.raises(ConsumerCrashed):
        crash.tick()
    assert crash.crashed and repr(crash) == "<CrashAfter 2: crashed>"
    with pytest.raises(ValueError, match="from 1"):
        CrashAfter(0)
