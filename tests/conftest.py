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


# Lesson notebooks that stop or restart the lab's brokers on purpose. `make test` runs them,
# and the tests marked `serial`, one after another in a lab of their own (`-m serial`), so
# no other test sees an outage it did not ask for.
SERIAL_NOTEBOOKS = ("notebooks/04_pubsub_and_queues.ipynb",)


# How `make test` spreads the rest over its workers (`--dist loadscope --no-loadscope-reorder`).
# A notebook's cells must run together and in order, and so do a test file's tests: each
# file is one unit of work, except the files in SPREAD, whose tests are long and need
# nothing from each other, so each of those is a unit of its own. Units start in the order
# of LONGEST_FIRST (the busy seconds each file took in one 3-worker run, in the comments),
# then in the order pytest collected them: a long unit that started last would keep one
# worker busy while the others sat idle.
SPREAD = ("tests/test_lesson01.py", "tests/test_lesson04.py", "tests/test_lesson07.py")
LONGEST_FIRST = (
    "tests/test_browser.py",  # 264 s (one JupyterLab and one chromium for all its tests)
    "tests/test_lesson00_kernel.py",  # 107 s
    "notebooks/07_choosing_and_combining.ipynb",  # 98 s
    "tests/test_cleanup.py",  # 91 s
    "tests/test_lesson01.py",  # 369 s, spread: 55 s at most per test
    "tests/test_lesson07.py",  # 186 s, spread: 50 s
    "tests/test_lesson04.py",  # 190 s, spread: 26 s
    "tests/test_lesson05.py",  # 67 s
    "tests/test_lesson06.py",  # 61 s
    "tests/test_lesson02.py",  # 54 s
    "notebooks/01_rest_with_fastapi.ipynb",  # 51 s
    "tests/test_grading.py",  # 46 s
)


def pytest_collection_modifyitems(config, items):
    def file_of(item) -> str:
        return item.path.relative_to(config.rootpath).as_posix()

    for item in items:
        if file_of(item) in SERIAL_NOTEBOOKS:
            item.add_marker(pytest.mark.serial)
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(file_of(item), len(rank)))  # stable: cells keep order


def pytest_xdist_make_scheduler(config, log):
    """Under `--dist loadscope`: one unit per file, or per test in SPREAD (see above)."""
    if config.getvalue("dist") != "loadscope":
        return None  # any other --dist: xdist's own
    from xdist.scheduler import LoadScopeScheduling

    class FileOrTestScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if path in SPREAD else path

    return FileOrTestScheduling(config, log)
