"""Nothing outlives the lab: brokers and helpers end with the process that started them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from labsupport import _procs

pytestmark = pytest.mark.broker

OWNER = """
from labsupport import ensure_rabbitmq, ensure_redis
ensure_redis(); ensure_rabbitmq()
print("up", flush=True)
import time; time.sleep(120)
"""


def _alive(pids):
    return [p for p in pids if _procs.pid_alive(p)]


def _named(pids) -> list[str]:
    """Return 'pid comm' for each pid, to say which process outlived the test's wait."""
    names = []
    for pid in pids:
        try:
            names.append(f"{pid} {Path(f'/proc/{pid}/comm').read_text().strip()}")
        except OSError:
            names.append(f"{pid} (gone)")
    return names


# A killed supervisor's children get SIGTERM (pdeathsig) and stop gracefully; RabbitMQ's
# graceful stop is seconds idle and took longer than 10 s once beside three busy workers.
GRACEFUL_S = 30


BROKER_PROGRAMS = ("redis-server", "beam.smp", "epmd")


def lab_processes(folder) -> list[str]:
    """Return the broker programs still running for this lab folder, whoever their parent is.

    Counted by the folder in their environment, not by pid files: an `epmd -daemon` the
    node started itself has no pid file and re-parents to init.
    """
    found = []
    for pid in _procs.strays(folder):
        try:
            comm = open(f"/proc/{pid}/comm").read().strip()
        except OSError:
            continue
        if comm in BROKER_PROGRAMS:
            found.append(f"{comm} ({pid})")
    return found


def _lab_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "AMQP_URL")}
    env["LAB_DIR"] = str(tmp_path)
    return env


def test_kill_9_of_the_owner_leaves_no_broker_running(tmp_path):
    env = {**os.environ, "LAB_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    env.pop("AMQP_URL", None)
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout.readline().strip() == "up"
        pids = [json.loads(p.read_text())["pid"] for p in (tmp_path / "pids").glob("*.json")]
        assert len(pids) >= 3, "expected redis-server, epmd and the RabbitMQ node"
        assert len(_alive(pids)) == len(pids)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=5)
        assert _procs.wait_until(lambda: not _alive(pids), timeout_s=GRACEFUL_S), _named(
            _alive(pids)
        )
        assert _procs.wait_until(lambda: not lab_processes(tmp_path), timeout_s=GRACEFUL_S), (
            lab_processes(tmp_path)
        )
    finally:
        owner.kill()


def test_a_stale_pid_file_is_swept_when_its_owner_is_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_DIR", str(tmp_path))
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    record = {"pid": orphan.pid, "owner_pid": dead_owner.pid, "label": "t", "argv0": "sleep"}
    (tmp_path / "pids").mkdir()
    pid_file = tmp_path / "pids" / f"{orphan.pid}.json"
    pid_file.write_text(json.dumps(record))
    seen = {  # what the sweep decides on, read now, in case it fails (CI saw [] once)
        "owner alive": _procs.pid_alive(dead_owner.pid),
        "orphan alive": _procs.pid_alive(orphan.pid),
        "cmdline": Path(f"/proc/{orphan.pid}/cmdline").read_bytes(),
    }
    swept = _procs.sweep_stale()
    try:
        assert swept == [orphan.pid], seen
    finally:
        if orphan.poll() is None:
            orphan.kill()
    assert orphan.wait(timeout=5) == -signal.SIGKILL
    assert not pid_file.exists()


def test_a_pid_file_with_a_live_owner_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_DIR", str(tmp_path))
    child = _procs.spawn(["sleep", "60"], label="t")
    try:
        assert _procs.sweep_stale() == []
        assert child.poll() is None
    finally:
        _procs.terminate(child, timeout_s=2)
    assert not (tmp_path / "pids" / f"{child.pid}.json").exists()


def test_kill_9_of_the_lab_supervisor_ends_its_command_and_its_brokers(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "AMQP_URL")}
    env["LAB_DIR"] = str(tmp_path)
    lab = subprocess.Popen(
        [sys.executable, "-m", "labsupport.lab", "run", "--", "sleep", "120"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "RabbitMQ" in lab.stdout.readline() + lab.stdout.readline()
        pids = [json.loads(p.read_text())["pid"] for p in (tmp_path / "pids").glob("*.json")]

        def sleepers() -> list[int]:
            out = subprocess.run(["pgrep", "-P", str(lab.pid)], capture_output=True, text=True)
            return [int(p) for p in out.stdout.split()]

        assert _procs.wait_until(lambda: bool(sleepers()), timeout_s=10)
        pids += sleepers()
        os.kill(lab.pid, signal.SIGKILL)
        lab.wait(timeout=5)
        gone = _procs.wait_until(lambda: not _alive(pids), timeout_s=GRACEFUL_S)
        assert gone, _named(_alive(pids))
        assert _procs.wait_until(lambda: not lab_processes(tmp_path), timeout_s=GRACEFUL_S), (
            lab_processes(tmp_path)
        )
    finally:
        lab.kill()


def test_a_lab_run_that_ends_normally_leaves_no_broker_or_epmd(tmp_path):
    lab = subprocess.run(
        [sys.executable, "-m", "labsupport.lab", "run", "--", "true"],
        env=_lab_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert lab.returncode == 0, lab.stderr
    assert _procs.wait_until(lambda: not lab_processes(tmp_path), timeout_s=GRACEFUL_S), (
        lab_processes(tmp_path)
    )


RESTARTER = """
from labsupport import ensure_rabbitmq
rabbit = ensure_rabbitmq()
rabbit.restart()  # from now on this process owns the node, and its epmd
print("up", flush=True)
import time; time.sleep(120)
"""


def test_kill_9_of_a_kernel_that_restarted_rabbitmq_leaves_no_epmd(tmp_path):
    lab = subprocess.Popen(
        [sys.executable, "-m", "labsupport.lab", "run", "--", sys.executable, "-c", RESTARTER],
        env=_lab_env(tmp_path),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [lab.stdout.readline() for _ in range(3)]
        assert lines[-1].strip() == "up", lines
        kernel = subprocess.run(["pgrep", "-P", str(lab.pid)], capture_output=True, text=True)
        for pid in kernel.stdout.split():
            os.kill(int(pid), signal.SIGKILL)
        assert lab.wait(timeout=60) != 0
        assert _procs.wait_until(lambda: not lab_processes(tmp_path), timeout_s=GRACEFUL_S), (
            lab_processes(tmp_path)
        )
    finally:
        lab.kill()


def test_a_second_lab_run_beside_a_running_lab_leaves_its_brokers_up(tmp_path):
    env = _lab_env(tmp_path)
    first = subprocess.Popen(
        [sys.executable, "-m", "labsupport.lab", "run", "--", "sleep", "120"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "RabbitMQ" in first.stdout.readline() + first.stdout.readline()
        second = subprocess.run(
            [sys.executable, "-m", "labsupport.lab", "run", "--", "true"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stderr
        assert second.stdout.count("already running") == 2, second.stdout
        states = [json.loads(p.read_text()) for p in (tmp_path / "brokers").glob("*.json")]
        assert len(states) == 2
        assert all(_procs.pid_alive(state["pid"]) for state in states)
    finally:
        first.kill()
        first.wait(timeout=10)
    assert _procs.wait_until(lambda: not lab_processes(tmp_path), timeout_s=GRACEFUL_S), (
        lab_processes(tmp_path)
    )
