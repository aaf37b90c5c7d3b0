"""Start helper processes that never outlive the lab.

Three layers cover every way a kernel can end: each child gets a parent-death signal
(Linux), runs in its own process group (so Ctrl-C in the kernel does not hit it, and
the whole group can be stopped at once), and is written to a pid file that the next
import sweeps if its owner is gone (kill -9, macOS, anything else).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import config

# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so every spawn
# happens on this one long-lived thread rather than on whatever thread asked for it.
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-spawner")
_children: dict[int, subprocess.Popen] = {}


def _pid_dir() -> Path:
    path = config.lab_dir() / "pids"
    path.mkdir(exist_ok=True)
    return path


def pdeathsig_prefix() -> list[str]:
    setpriv = shutil.which("setpriv")
    if sys.platform.startswith("linux") and setpriv:
        return [setpriv, "--pdeathsig", "TERM", "--"]
    return []


def spawn(
    argv: list[str],
    *,
    label: str,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    cwd: str | Path | None = None,
) -> subprocess.Popen:
    """Start argv in its own process group, tied to this process, and record its pid file."""

    def start() -> subprocess.Popen:
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            return subprocess.Popen(
                pdeathsig_prefix() + argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if log_path:
                out.close()

    proc = _spawner.submit(start).result(timeout=30)
    _children[proc.pid] = proc
    record = {"pid": proc.pid, "owner_pid": os.getpid(), "label": label, "argv0": argv[0]}
    (_pid_dir() / f"{proc.pid}.json").write_text(json.dumps(record))
    return proc


def terminate(
    proc: subprocess.Popen, *, timeout_s: float = 15.0, sig: int = signal.SIGTERM
) -> None:
    """Stop a spawned process group: sig first, SIGKILL for what is left after timeout_s."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group (erl helpers, etc.)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    _children.pop(proc.pid, None)
    (_pid_dir() / f"{proc.pid}.json").unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """Tell whether a process with this pid exists (and is not a zombie we could reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().split(") ")[-1][:1] != "Z"
        except OSError:
            return False
    return True


def _looks_like(pid: int, argv0: str) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # no /proc (macOS): trust the pid file
    try:
        return Path(argv0).name.encode() in cmdline.read_bytes()
    except OSError:
        return False


def sweep_stale() -> list[int]:
    """Stop children whose owning process is gone; return the pids that were stopped."""
    stopped = []
    for path in _pid_dir().glob("*.json"):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        pid, owner = rec["pid"], rec["owner_pid"]
        if not pid_alive(pid):
            path.unlink(missing_ok=True)
        elif not pid_alive(owner) and _looks_like(pid, rec.get("argv0", "")):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            path.unlink(missing_ok=True)
            stopped.append(pid)
    return stopped


def _stop_children_at_exit() -> None:
    for proc in list(_children.values()):
        terminate(proc, timeout_s=10)


atexit.register(_stop_children_at_exit)


def wait_until(
    predicate, *, timeout_s: float, interval_s: float = 0.05, what: str | None = None
) -> bool:
    """Poll predicate until it is true or timeout_s passes; return whether it became true.

    With `what`, running out of time raises TimeoutError naming what did not happen.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    if predicate():
        return True
    if what is not None:
        raise TimeoutError(f"{what} did not happen within {timeout_s} s")
    return False


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def strays(folder: Path) -> list[int]:
    """Return live processes started for `folder` (their environment names it), outside our pid files.

    A process a broker daemonises itself (Erlang's `epmd -daemon`) re-parents to init and
    escapes the parent-death signal and the process group; it still carries the folder
    in its environment (HOME or LAB_DIR), which is how it is found. Linux only.
    """
    needle = str(Path(folder).resolve()).encode()
    me = os.getpid()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        values = _environ(pid).split(b"\0")
        if pid != me and any(v.endswith(needle) or needle + b"/" in v for v in values):
            found.append(pid)
    return found


def reap_strays(folder: Path, names: tuple[str, ...] = ("epmd",)) -> list[int]:
    """Kill the stray helpers (by default: epmd) that were started for `folder`; return their pids."""
    killed = []
    for pid in strays(folder):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm in names:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return killed
