"""A real RabbitMQ node run as a plain user process, with an epmd of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

from .. import _net, _procs, config
from ._broker import Broker

_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def amqp_handshake(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Tell whether an AMQP 0-9-1 server answers the protocol header with Connection.Start."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(_AMQP_HEADER)
            frame = sock.recv(16)
            return len(frame) >= 7 and frame[0] == 1  # frame type 1: a method frame
    except OSError:
        return False


class RabbitBroker(Broker):
    """RabbitMQ bound to 127.0.0.1: node, distribution and epmd ports all the lab's own."""

    kind = "rabbitmq"
    start_timeout_s = 90.0

    def _probe(self, timeout_s: float = 1.0) -> bool:
        return amqp_handshake(self.host, self.port, timeout_s)

    def _env(self, data_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(data_dir),  # the Erlang cookie goes here, not in the learner's home
            RABBITMQ_NODENAME=f"lab{self.port}@localhost",
            RABBITMQ_NODE_IP_ADDRESS=config.HOST,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.state["dist_port"]),
            ERL_EPMD_PORT=str(self.state["epmd_port"]),
            ERL_EPMD_ADDRESS=config.HOST,
            RABBITMQ_MNESIA_BASE=str(data_dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(data_dir / "log"),
            RABBITMQ_LOGS="-",
            RABBITMQ_PID_FILE=str(data_dir / "rabbit.pid"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(data_dir / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(data_dir / "rabbitmq"),
            RABBITMQ_CONF_ENV_FILE=str(data_dir / "rabbitmq-env.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(data_dir / "advanced.config"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            # Makes the start script exec the VM instead of wrapping it, so the pid we hold
            # is the node itself and SIGTERM reaches it (a clean shutdown).
            RUNNING_UNDER_SYSTEMD="true",
            # Never let Erlang start `epmd -daemon` itself: that epmd re-parents to init and
            # escapes every cleanup. Without the lab's epmd the node fails to start, loudly.
            ERL_AFLAGS="-start_epmd false",
            ERL_CRASH_DUMP=str(data_dir / "erl_crash.dump"),  # not in whatever folder we ran from
        )
        for var in ("RABBITMQ_ALLOW_INPUT", "NOTIFY_SOCKET"):
            env.pop(var, None)
        return env

    def _ensure_epmd(self, env: dict[str, str], data_dir: Path) -> None:
        if _net.port_open(config.HOST, self.state["epmd_port"]):
            return
        epmd = self.state.get("epmd")
        if not epmd:  # the node may not start its own (ERL_AFLAGS): say so now, not in 90 s
            raise RuntimeError(
                "RabbitMQ needs Erlang's epmd and none was found: install the Debian package "
                "erlang-base (or your distribution's erlang), or set AMQP_URL to a running broker"
            )
        argv = [epmd, "-port", str(self.state["epmd_port"]), "-address", config.HOST]
        proc = _procs.spawn(argv, label="epmd", env=env, log_path=data_dir / "epmd.log")
        self.state["epmd_pid"] = proc.pid
        self._epmd_proc = proc
        listening = _procs.wait_until(
            lambda: proc.poll() is None and _net.port_open(config.HOST, self.state["epmd_port"]),
            timeout_s=10,
        )
        if not listening:
            _procs.terminate(proc, timeout_s=2)
            raise RuntimeError(
                f"epmd did not listen on port {self.state['epmd_port']} within 10 s "
                f"(see {data_dir / 'epmd.log'}): run 'python -m labsupport.lab down' and retry"
            )

    def _launch(self) -> subprocess.Popen:
        data_dir = Path(self.state["data_dir"])
        (data_dir / "log").mkdir(parents=True, exist_ok=True)
        (data_dir / "enabled_plugins").write_text("[].\n")
        (data_dir / "rabbitmq.conf").write_text("loopback_users.guest = true\n")
        (data_dir / "rabbitmq-env.conf").write_text("")
        env = self._env(data_dir)
        self._ensure_epmd(env, data_dir)
        argv = [self.state["binary"]]
        return _procs.spawn(argv, label="rabbitmq", env=env, log_path=data_dir / "server.log")

    def _after_stop(self) -> None:
        proc = getattr(self, "_epmd_proc", None)
        if proc is not None:
            _procs.terminate(proc, timeout_s=2)
            self._epmd_proc = None
        elif self.state.get("epmd_pid") and _procs.pid_alive(self.state["epmd_pid"]):
            pid = self.state["epmd_pid"]
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            # Wait for it to go, or the next start finds its port still taken and fails.
            _procs.wait_until(lambda: not _procs.pid_alive(pid), timeout_s=5)
        _procs.reap_strays(Path(self.state["data_dir"]))
