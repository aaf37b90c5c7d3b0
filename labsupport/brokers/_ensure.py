"""Find or start the lab's brokers: the logic behind `ensure_redis` and `ensure_rabbitmq`."""

from __future__ import annotations

import secrets
from urllib.parse import urlparse

from .. import _net, _procs, config
from ._broker import Broker, lab_lock, load_state, state_dir
from ._find import find_epmd, find_rabbitmq_server, find_redis_server, missing_message
from ._rabbitmq import RabbitBroker
from ._redis import RedisBroker

_handles: dict[str, Broker] = {}


def _from_url(cls: type[Broker], url: str, default_port: int) -> Broker:
    parsed = urlparse(url)
    broker = cls(url, parsed.hostname or config.HOST, parsed.port or default_port, managed=False)
    if not broker.wait_up(timeout_s=5):
        env = "REDIS_URL" if cls is RedisBroker else "AMQP_URL"
        raise RuntimeError(
            f"{cls.kind} is not reachable at {broker.host}:{broker.port} ({env}={url}). "
            f"Start that server (e.g. 'docker compose up -d'), or unset {env} so the lab runs its own."
        )
    return broker


def _ensure(kind: str, cls: type[Broker], new_state) -> Broker:
    key = f"{config.lab_dir()}:{kind}"
    known = _handles.get(key)
    if known is not None and known.is_up():
        return known
    # One locked section from "is it there?" to "it is up": two kernels starting at
    # once must end up with one broker, not two on different ports.
    with lab_lock(kind):
        state = load_state(kind)
        if not (state and state.get("binary")):
            state = new_state()
        broker = cls(state["url"], config.HOST, state["port"], managed=True, state=state)
        broker.start_locked()  # finds the running one, or starts it on the recorded port
    _handles[key] = broker
    return broker


def ensure_redis(*, persistent: bool = False) -> Broker:
    """Return the lab's Redis, starting a real redis-server if none is running.

    Used from lesson 00 on. With persistent=True the append-only file is switched on.
    """
    if url := config.redis_url_override():
        return _from_url(RedisBroker, url, 6379)

    def new_state() -> dict:
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError(missing_message("redis", "No redis-server found on this machine."))
        port = _net.free_port()
        data_dir = state_dir() / "redis-data"
        return {
            "binary": binary,
            "port": port,
            "data_dir": str(data_dir),
            "url": f"redis://{config.HOST}:{port}/0",
            "persistent": persistent,
        }

    broker = _ensure("redis", RedisBroker, new_state)
    if persistent and not broker.state.get("persistent"):
        broker.set_persistence(True)
    return broker


def ensure_rabbitmq() -> Broker:
    """Return the lab's RabbitMQ, starting a real node (about 7 s) if none is running."""
    if url := config.amqp_url_override():
        return _from_url(RabbitBroker, url, 5672)

    def new_state() -> dict:
        binary = find_rabbitmq_server()
        if binary is None:
            raise RuntimeError(
                missing_message("rabbitmq", "No rabbitmq-server found on this machine.")
            )
        port = _net.free_port()
        return {
            "binary": binary,
            "epmd": find_epmd(binary),
            "port": port,
            "dist_port": _net.free_port(),
            "epmd_port": _net.free_port(),
            "data_dir": str(state_dir() / "rabbitmq-data"),
            "url": f"amqp://guest:guest@{config.HOST}:{port}/%2F",
        }

    return _ensure("rabbitmq", RabbitBroker, new_state)


def stop_brokers(brokers: list[Broker] | None = None) -> None:
    """Stop the given brokers, or every broker the lab manages (`python -m labsupport.lab down`)."""
    if brokers is None:
        brokers = []
        for kind, cls in (("redis", RedisBroker), ("rabbitmq", RabbitBroker)):
            state = load_state(kind)
            if state:
                key = f"{config.lab_dir()}:{kind}"
                brokers.append(
                    _handles.get(key)
                    or cls(state["url"], config.HOST, state["port"], managed=True, state=state)
                )
    for broker in brokers:
        broker.stop(timeout_s=20)
        _handles.pop(f"{config.lab_dir()}:{broker.kind}", None)
    if brokers:
        _procs.reap_strays(state_dir())  # an epmd that daemonised itself despite everything


def fresh_name(prefix: str) -> str:
    """Return prefix plus a short random suffix: a queue or key name no earlier run used."""
    return f"{prefix}.{secrets.token_hex(3)}"


_procs.sweep_stale()
