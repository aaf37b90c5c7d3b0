"""Real Redis and RabbitMQ: found once, shared, crashed and restarted on demand."""

from __future__ import annotations

import pika
import pytest
import redis

from labsupport import ensure_rabbitmq, ensure_redis, fresh_name
from labsupport.brokers import amqp_handshake, ping

pytestmark = pytest.mark.broker


def test_redis_is_a_real_server_on_loopback(redis_broker):
    assert redis_broker.url.startswith("redis://127.0.0.1:")
    r = redis.Redis.from_url(redis_broker.url)
    assert r.ping() is True
    assert r.info("server")["redis_version"]


def test_asking_twice_returns_the_same_redis(redis_broker):
    assert ensure_redis().port == redis_broker.port


@pytest.mark.serial
def test_redis_killed_is_down_and_comes_back_on_the_same_port(redis_broker):
    if not redis_broker.managed:
        pytest.skip("REDIS_URL points at a server the lab does not manage")
    port = redis_broker.port
    redis_broker.kill()
    assert not ping("127.0.0.1", port)
    redis_broker.start()
    assert redis_broker.port == port and ping("127.0.0.1", port)


@pytest.mark.serial
def test_redis_persistence_keeps_data_across_a_restart(redis_broker):
    if not redis_broker.managed:
        pytest.skip("REDIS_URL points at a server the lab does not manage")
    broker = ensure_redis(persistent=True)
    key = fresh_name("orders.kept")
    r = redis.Redis.from_url(broker.url)
    r.set(key, "42")
    broker.restart()
    assert redis.Redis.from_url(broker.url).get(key) == b"42"
    broker.set_persistence(False)


def test_rabbitmq_accepts_a_message_and_gives_it_back(rabbit_broker):
    queue = fresh_name("orders.placed")
    connection = pika.BlockingConnection(pika.URLParameters(rabbit_broker.url))
    channel = connection.channel()
    channel.queue_declare(queue=queue, auto_delete=True)
    channel.basic_publish(exchange="", routing_key=queue, body=b"order 1")
    method, _props, body = channel.basic_get(queue=queue, auto_ack=True)
    connection.close()
    assert body == b"order 1"


def test_rabbitmq_listens_on_loopback_only(rabbit_broker):
    assert rabbit_broker.host == "127.0.0.1"
    assert amqp_handshake("127.0.0.1", rabbit_broker.port)


@pytest.mark.serial
def test_durable_queue_survives_a_rabbitmq_restart(rabbit_broker):
    if not rabbit_broker.managed:
        pytest.skip("AMQP_URL points at a server the lab does not manage")
    queue = fresh_name("orders.durable")
    params = pika.URLParameters(rabbit_broker.url)
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    channel.queue_declare(queue=queue, durable=True)
    channel.basic_publish(
        exchange="",
        routing_key=queue,
        body=b"keep me",
        properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
    )
    connection.close()
    rabbit_broker.restart()
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    _m, _p, body = channel.basic_get(queue=queue, auto_ack=True)
    channel.queue_delete(queue=queue)
    connection.close()
    assert body == b"keep me"


def test_urls_from_the_environment_start_nothing(
    monkeypatch, redis_broker, rabbit_broker, tmp_path
):
    from labsupport.labcheck import check_lab

    monkeypatch.setenv("LAB_DIR", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", redis_broker.url)
    monkeypatch.setenv("AMQP_URL", rabbit_broker.url)
    redis_from_env, rabbit_from_env = ensure_redis(), ensure_rabbitmq()
    assert not redis_from_env.managed and redis_from_env.port == redis_broker.port
    assert not rabbit_from_env.managed and rabbit_from_env.port == rabbit_broker.port
    assert check_lab().all_green
    assert list((tmp_path / "pids").glob("*.json")) == [], "the lab started a process of its own"
    assert not (tmp_path / "brokers" / "redis.json").exists()
    with pytest.raises(RuntimeError, match="Unset REDIS_URL"):
        redis_from_env.kill()


def test_an_unreachable_url_says_what_to_do(monkeypatch):
    from labsupport._net import free_port

    monkeypatch.setenv("AMQP_URL", f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
    with pytest.raises(RuntimeError, match="docker compose up -d"):
        ensure_rabbitmq()


def test_no_binary_gives_every_way_out(monkeypatch, tmp_path):
    import labsupport.brokers._ensure as brokers

    monkeypatch.setenv("LAB_DIR", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(brokers, "find_redis_server", lambda: None)
    with pytest.raises(RuntimeError) as info:
        ensure_redis()
    message = str(info.value)
    for way in ("make lab", "environment.yml", "brew install redis", "REDIS_URL"):
        assert way in message


def test_kernels_starting_at_once_share_one_rabbitmq(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "AMQP_URL")}
    env["LAB_DIR"] = str(tmp_path)
    code = (
        "from labsupport import ensure_rabbitmq; print(ensure_rabbitmq().port, flush=True); input()"
    )
    kernels = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        ports = {k.stdout.readline().strip() for k in kernels}
    finally:
        for k in kernels:
            k.kill()
            k.wait(timeout=10)
    assert len(ports) == 1, f"one lab, several RabbitMQ nodes: {ports}"
