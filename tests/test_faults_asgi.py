"""HTTP fault middleware on a real FastAPI app served by uvicorn."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest
from fastapi import FastAPI

from labsupport import serve_app
from labsupport.faults import FaultInjector, HttpFaults, add_faults


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/orders/{order_id}")
    def get_order(order_id: int) -> dict:
        return {"order_id": order_id, "sku": "mug-blue", "qty": 1}

    return app


@pytest.fixture
def app() -> FastAPI:
    return make_app()


def get_many(url: str, count: int) -> list[httpx.Response]:
    with httpx.Client(base_url=url, timeout=5) as client:
        return [client.get("/orders/7") for _ in range(count)]


def timed_get_ms(client: httpx.Client) -> float:
    start = time.perf_counter()
    client.get("/orders/7")
    return (time.perf_counter() - start) * 1000


def test_error_rate_fails_about_that_share_of_requests(app):
    faults = add_faults(app, error_rate=0.3, seed=1)
    with serve_app(app, name="faulty-orders") as run:
        responses = get_many(run.url, 300)
    failed = [r for r in responses if r.status_code == 503]
    assert 0.2 * 300 <= len(failed) <= 0.4 * 300
    assert all(r.headers["x-injected-fault"] == "true" for r in failed)
    assert all(r.json()["order_id"] == 7 for r in responses if r.status_code == 200)
    assert faults.stats.errors_injected == len(failed)
    assert faults.stats.requests == 300


def test_delay_is_added_to_each_request(app):
    add_faults(app, delay_ms=40)
    with serve_app(app, name="slow-orders") as run, httpx.Client(base_url=run.url) as client:
        samples = [timed_get_ms(client) for _ in range(12)]
    assert 40 <= statistics.median(samples) < 40 * 1.5 + 15


def test_delay_rate_slows_only_that_share_of_requests(app):
    faults = add_faults(app, delay_ms=30, delay_rate=0.25, seed=3)
    with serve_app(app, name="sometimes-slow") as run, httpx.Client(base_url=run.url) as client:
        samples = [timed_get_ms(client) for _ in range(80)]
    delayed = faults.stats.delays_injected
    assert 0.1 * 80 <= delayed <= 0.4 * 80
    # Every delayed request is slow, and the typical one is not. (Counting the slow ones
    # exactly fails on a busy host: beside three other workers, 31 of 80 took 30 ms with
    # 19 delayed.)
    assert sum(ms >= 30 for ms in samples) >= delayed
    assert statistics.median(samples) < 30, sorted(samples)


def test_changing_the_error_rate_acts_on_a_running_app(app):
    faults = add_faults(app)
    with serve_app(app, name="orders") as run, httpx.Client(base_url=run.url) as client:
        assert {client.get("/orders/1").status_code for _ in range(10)} == {200}
        faults.set(error_rate=1.0, status=502)
        assert {client.get("/orders/1").status_code for _ in range(10)} == {502}
        faults.reset()
        assert {client.get("/orders/1").status_code for _ in range(10)} == {200}


def test_retry_after_header_is_sent_when_asked(app):
    add_faults(app, error_rate=1.0, status=429, retry_after_s=2)
    with serve_app(app, name="orders") as run:
        response = httpx.get(f"{run.url}/orders/1")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"detail": "injected fault: 429 Too Many Requests"}


def test_add_faults_on_a_serving_app_twice_reconfigures_instead_of_stacking(app):
    with serve_app(app, name="orders") as run, httpx.Client(base_url=run.url) as client:
        assert client.get("/orders/1").status_code == 200  # the app has started
        first = add_faults(app, error_rate=1.0)
        assert client.get("/orders/1").status_code == 503
        second = add_faults(app, error_rate=0.0)
        assert client.get("/orders/1").status_code == 200
    assert second is first
    assert first.stats.requests == 1  # the re-run zeroed the counters; one layer counted once


def test_middleware_works_through_add_middleware_and_by_wrapping(app):
    faults = HttpFaults(error_rate=1.0)
    app.add_middleware(FaultInjector, faults=faults)
    wrapped = FaultInjector(make_app(), status=500)
    with serve_app(app, name="a") as a, serve_app(wrapped, name="b") as b:
        assert httpx.get(f"{a.url}/orders/1").status_code == 503
        assert httpx.get(f"{b.url}/orders/1").status_code == 200
        wrapped.set(error_rate=1.0)
        assert httpx.get(f"{b.url}/orders/1").status_code == 500
    assert faults.stats.errors_injected == wrapped.stats.errors_injected == 1


def test_bad_knobs_are_refused_with_a_clear_error(app):
    with pytest.raises(TypeError, match="the knobs are error_rate"):
        add_faults(app, eror_rate=0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        add_faults(app, error_rate=20)
    with pytest.raises(ValueError, match="HTTP error code"):
        HttpFaults(status=200)
    with pytest.raises(TypeError, match="not both"):
        FaultInjector(app, faults=HttpFaults(), error_rate=0.5)
