"""Shared fixtures: the lab's real brokers, and a clean slate of services per test."""

from __future__ import annotations

import pytest

from labsupport import config, ensure_rabbitmq, ensure_redis, stop_all


def _broker_or_skip(ensure, what: str):
    try:
        return ensure()
    except RuntimeError as exc:
        if config.in_ci():
            pytest.fail(f"{what} is required under CI and could not be had:\n{exc}")
        pytest.skip(f"{what} not available here: {exc}")


@pytest.fixture
def redis_broker():
    """The lab's real Redis (never skipped when CI=true)."""
    broker = _broker_or_skip(ensure_redis, "Redis")
    yield broker
    if broker.managed and not broker.is_up():
        broker.start()  # a test that stopped it must not break the next one


@pytest.fixture
def rabbit_broker():
    """The lab's real RabbitMQ (never skipped when CI=true)."""
    broker = _broker_or_skip(ensure_rabbitmq, "RabbitMQ")
    yield broker
    if broker.managed and not broker.is_up():
        broker.start()


@pytest.fixture(autouse=True)
def _stop_services_after_each_test():
    yield
    stop_all()


# Lesson notebooks that stop or restart the lab's shared brokers on purpose. `make test`
# runs everything else on several workers at once, and these alone afterwards (`-m serial`),
# so no other test sees an outage it did not ask for.
SERIAL_NOTEBOOKS = ("notebooks/04_pubsub_and_queues.ipynb",)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.relative_to(config.rootpath).as_posix() in SERIAL_NOTEBOOKS:
            item.add_marker(pytest.mark.serial)
