"""Run the lab: start the brokers once, run a command (JupyterLab, pytest) beside them, stop them.

    python -m labsupport.lab down          stop the brokers the lab manages
    python -m labsupport.lab run -- CMD    brokers up, run CMD, brokers down when it ends

While `run` is alive every kernel finds the same brokers through the lab's state
files; when it ends (even by kill -9) the brokers end with it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from . import _procs, config
from .brokers import Broker, ensure_rabbitmq, ensure_redis, stop_brokers


def bring_up() -> list[Broker]:
    """Start (or find) Redis and RabbitMQ, say where they listen; return the ones started here."""
    started = []
    for label, ensure in (("Redis", ensure_redis), ("RabbitMQ", ensure_rabbitmq)):
        try:
            broker = ensure()
        except RuntimeError as exc:
            print(f"{label} could not be started.\n{exc}", file=sys.stderr)
            raise SystemExit(2) from exc
        ours = broker.managed and broker.state.get("owner_pid") == os.getpid()
        print(
            f"{label:9s} {broker.url}"
            + ("" if ours or not broker.managed else " (already running)")
        )
        if ours:
            started.append(broker)
    return started


def run_beside_brokers(cmd: list[str]) -> int:
    """Run cmd with the brokers up; stop them afterwards; return cmd's exit code."""
    if not cmd:
        raise SystemExit("usage: python -m labsupport.lab run -- COMMAND [ARGS...]")
    # A second `lab run` beside a running lab (`make test` while `make lab` is open) uses
    # its brokers and leaves them to their owner when it ends.
    started = bring_up()
    # Ctrl-C belongs to the child (JupyterLab asks before it quits); we wait for it.
    interrupted = []
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    try:
        # The child (JupyterLab) dies with us too, even on kill -9, and takes its kernels along.
        child = subprocess.Popen(
            _procs.pdeathsig_prefix() + cmd,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        code = child.wait()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup
        stop_brokers(started)
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        print("Lab stopped: JupyterLab and the brokers are down.")
        return 0
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labsupport.lab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=["run", "down", "where"])
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.action == "down":
        stop_brokers()
    elif args.action == "where":
        print(config.lab_dir())
    else:
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        return run_beside_brokers(cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
