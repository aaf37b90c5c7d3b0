"""Lesson 01: its checks pass a correct answer, fail blanks and wrong ones; its apps never 5xx."""

from __future__ import annotations

import asyncio
import csv
import random
import re
import shutil
import subprocess
import sys
import time
from urllib.parse import quote

import httpx
import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport import config, serve_app
from labsupport.lessons.rest01 import (
    CircuitOpenError,
    check_circuit_breaker,
    check_gateway,
    check_retry_get,
)
from labsupport.shop import (
    make_inventory_app,
    make_orders_app,
    make_payments_app,
    make_users_app,
)

NOTEBOOK = "01_rest_with_fastapi.ipynb"


# --- answers: one correct, one blank, and wrong ones a learner plausibly writes ----------


def make_get_with_retries(
    retry_4xx=False, deadline=True, jitter=True, retry_after=True, catch_transport=True
):
    """Build get_with_retries; each flag off (or on, for retry_4xx) is one known mistake."""

    def get_with_retries(
        client, path, *, max_attempts=5, base_delay_s=0.05, max_delay_s=1.0, deadline_s=5.0
    ):
        end = time.monotonic() + deadline_s
        for attempt in range(max_attempts):
            reply, error = None, None
            try:
                reply = client.get(path)
            except httpx.TransportError as exc:
                if not catch_transport:
                    raise
                error = exc
            else:
                final = reply.status_code < 400 if retry_4xx else reply.status_code < 500
                if final and reply.status_code != 429:
                    return reply
            if attempt == max_attempts - 1:
                break
            cap_s = min(max_delay_s, base_delay_s * 2**attempt)
            wait_s = random.uniform(0, cap_s) if jitter else cap_s
            if retry_after and reply is not None and "Retry-After" in reply.headers:
                wait_s = max(wait_s, float(reply.headers["Retry-After"]))
            if deadline and time.monotonic() + wait_s > end:
                break
            time.sleep(wait_s)
        if error is not None:
            raise error
        return reply

    return get_with_retries


def make_breaker(half_open=True, close_after_cool_down=False, in_a_row=True, fail_fast=True):
    """Build a CircuitBreaker class; each changed flag is one known mistake."""

    class CircuitBreaker:
        def __init__(self, failure_threshold=5, reset_timeout_s=1.0):
            self.threshold, self.cool_down_s = failure_threshold, reset_timeout_s
            self.failures, self.opened_at = 0, None

        @property
        def state(self):
            if self.opened_at is None:
                return "closed"
            cooled = time.monotonic() - self.opened_at >= self.cool_down_s
            if cooled and close_after_cool_down:
                self.opened_at, self.failures = None, 0
                return "closed"
            return "half_open" if cooled and half_open else "open"

        def call(self, fn, *args, **kwargs):
            state = self.state
            if state == "open" and fail_fast:
                raise CircuitOpenError("open")
            try:
                result = fn(*args, **kwargs)
            except Exception:
                self.failures += 1
                if state == "half_open" or self.failures >= self.threshold:
                    self.opened_at = time.monotonic()
                raise
            if in_a_row:
                self.failures = 0
            if state != "open":
                self.opened_at = None
            return result

    return CircuitBreaker


def make_fetch_account_page(concurrent=True, return_exceptions=True, timeout=True, check=True):
    """Build fetch_account_page; each flag off is one known mistake."""

    async def fetch_account_page(client, urls, *, timeout_s=0.5):
        async def fetch(url):
            reply = await (client.get(url, timeout=timeout_s) if timeout else client.get(url))
            if check:
                reply.raise_for_status()
            return reply.json()

        names = list(urls)
        if concurrent:
            calls = (fetch(urls[n]) for n in names)
            results = await asyncio.gather(*calls, return_exceptions=return_exceptions)
        else:
            results = []
            for name in names:
                try:
                    results.append(await fetch(urls[name]))
                except Exception as exc:
                    results.append(exc)
        parts = {n: r for n, r in zip(names, results, strict=True) if not isinstance(r, Exception)}
        return {"parts": parts, "missing": sorted(n for n in names if n not in parts)}

    return fetch_account_page


def blank_function(*args, **kwargs):
    raise NotImplementedError("Write this part: see the docstring above")


class BlankBreaker:
    def __init__(self, failure_threshold=5, reset_timeout_s=1.0):
        raise NotImplementedError("Write this part: see the docstring above")


CHECKS = {
    "retry_get": (check_retry_get, make_get_with_retries(), blank_function),
    "circuit_breaker": (check_circuit_breaker, make_breaker(), BlankBreaker),
    "gateway": (check_gateway, make_fetch_account_page(), blank_function),
}


def failed_cases(report) -> dict[str, str]:
    return {c.name: c.message for c in report.cases if c.outcome != "passed"}


@pytest.mark.parametrize("task_id", sorted(CHECKS))
def test_a_correct_answer_passes_every_case(task_id):
    check, answer, _ = CHECKS[task_id]

    report = check.run(answer)

    assert report.status == "passed", str(report)
    assert report.score == 1.0 and report.total >= 5


@pytest.mark.parametrize("task_id", sorted(CHECKS))
def test_an_untouched_task_reads_not_attempted_yet_and_scores_zero(task_id):
    check, _, blank = CHECKS[task_id]

    report = check.run(blank)

    assert report.status == "not attempted", str(report)
    assert report.score == 0.0
    assert "not attempted yet" in str(report) and "Traceback" not in str(report)


WRONG_RETRIES = [
    ("retries a 404", dict(retry_4xx=True), "asks only once for a payment that does not exist"),
    ("ignores the deadline", dict(deadline=False), "gives up at the deadline"),
    ("backs off without jitter", dict(jitter=False), "waits longer after each failure"),
]
WRONG_BREAKERS = [
    ("never half-opens", dict(half_open=False), "is half-open once the cool-down has passed"),
    ("closes straight after the cool-down", dict(close_after_cool_down=True), "a failed trial"),
    ("keeps calling while open", dict(fail_fast=False), "fails fast while open"),
]
WRONG_GATEWAYS = [
    ("calls one service after another", dict(concurrent=False), "calls the three services"),
    ("fails entirely when one is down", dict(return_exceptions=False), "refuses connections"),
    ("has no per-call timeout", dict(timeout=False), "never answers"),
]


def assert_fails_where_expected(report, expected_case: str) -> None:
    failed = failed_cases(report)
    assert report.status in ("failed", "error"), str(report)
    assert any(expected_case in name for name in failed), str(report)
    assert all(c.hint for c in report.cases if c.outcome != "passed")


@pytest.mark.parametrize(
    ("mistake", "flags", "case"), WRONG_RETRIES, ids=[w[0] for w in WRONG_RETRIES]
)
def test_the_retry_check_fails_a_known_wrong_answer(mistake, flags, case):
    assert_fails_where_expected(check_retry_get.run(make_get_with_retries(**flags)), case)


@pytest.mark.parametrize(
    ("mistake", "flags", "case"), WRONG_BREAKERS, ids=[w[0] for w in WRONG_BREAKERS]
)
def test_the_breaker_check_fails_a_known_wrong_answer(mistake, flags, case):
    assert_fails_where_expected(check_circuit_breaker.run(make_breaker(**flags)), case)


@pytest.mark.parametrize(
    ("mistake", "flags", "case"), WRONG_GATEWAYS, ids=[w[0] for w in WRONG_GATEWAYS]
)
def test_the_gateway_check_fails_a_known_wrong_answer(mistake, flags, case):
    assert_fails_where_expected(check_gateway.run(make_fetch_account_page(**flags)), case)


def test_a_failed_case_names_the_symptom_and_not_the_answer():
    report = check_circuit_breaker.run(make_breaker(in_a_row=False))

    message = failed_cases(report)["counts failures in a row, not in total"]
    assert message == "fail, fail, success, fail, fail left it 'open' with failure_threshold=3"
    assert "opened_at" not in str(report) and "self.failures" not in str(report)


# --- one source for exercises and solutions -------------------------------------------------


def test_the_exercise_keeps_the_task_docstrings_and_hides_every_solution():
    exercise = nbformat.read(config.REPO_ROOT / "exercises" / NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in exercise.cells if c.cell_type == "code")

    for name in ("def get_with_retries(", "class CircuitBreaker:", "async def fetch_account_page("):
        assert name in code
    assert code.count('raise NotImplementedError("Write this part') == 5
    for leaked in ("random.uniform", "asyncio.gather", "self.opened_at", "BEGIN SOLUTION"):
        assert leaked not in code


# --- grading a folder of lesson-01 submissions -----------------------------------------------

LOOPING_BODY = """    while True:  # retries for ever: no attempt limit, no deadline
        reply = client.get(path)
        if reply.status_code < 400:
            return reply
        time.sleep(0.05)"""


def write_looping_copy(path) -> None:
    nb = nbformat.read(config.REPO_ROOT / "solutions" / NOTEBOOK, as_version=4)
    [cell] = [c for c in nb.cells if c.source.startswith("def get_with_retries(")]
    pattern = r"    ### BEGIN SOLUTION\n.*?### END SOLUTION"
    cell.source = re.sub(pattern, LOOPING_BODY, cell.source, flags=re.S)
    assert "while True" in cell.source
    nbformat.write(nb, path)


def test_grading_the_blank_the_solved_and_a_looping_notebook_gives_0_100_and_an_error(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(config.REPO_ROOT / "exercises" / NOTEBOOK, folder / "ada_blank.ipynb")
    shutil.copy(config.REPO_ROOT / "solutions" / NOTEBOOK, folder / "bob_solved.ipynb")
    write_looping_copy(folder / "cy_loops.ipynb")

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "labsupport.grading", str(folder), "--csv", "grades.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,  # the bound for this demo: three minutes
    )
    print(done.stdout, f"\ngraded in {time.monotonic() - started:.1f} s")

    assert done.returncode == 0, done.stderr
    with (tmp_path / "grades.csv").open(newline="", encoding="utf-8") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    tasks = ["retry_get", "circuit_breaker", "gateway"]
    assert [rows["ada_blank.ipynb"][t] for t in tasks] == ["0.00"] * 3
    assert (rows["ada_blank.ipynb"]["total_percent"], rows["ada_blank.ipynb"]["status"]) == (
        "0.0",
        "ok",
    )
    assert (rows["bob_solved.ipynb"]["total_percent"], rows["bob_solved.ipynb"]["status"]) == (
        "100.0",
        "ok",
    )
    loops = rows["cy_loops.ipynb"]
    assert loops["status"].startswith("error: task retry_get:"), loops["status"]
    assert "took longer than" in loops["status"]
    assert float(loops["retry_get"]) < 1.0


# --- the shop's apps, served for real, never answer 5xx to anything a client sends ---------

APPS = {
    "orders": make_orders_app,
    "inventory": make_inventory_app,
    "users": make_users_app,
    "payments": make_payments_app,
}
PATHS = [
    "/orders", "/orders/{}", "/users/{}", "/users/{}/orders", "/users/{}/payments",
    "/payments/{}", "/products", "/products/{}", "/products/{}/price", "/{}",
]  # fmt: skip
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(
    str.strip
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
BODIES = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "sku": st.text(max_size=45) | st.integers(),
            "qty": st.integers() | st.text(max_size=5) | st.none(),
            "user_id": st.integers() | st.floats(allow_nan=False, allow_infinity=False),
            "price_cents": st.integers() | st.text(max_size=5),
        },
    ),
    JSON,
    st.binary(max_size=40),
)
SEGMENTS = st.one_of(st.integers(), st.text(max_size=30), st.sampled_from(["sku-0001", "7", "1"]))
REQUESTS = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
        "template": st.sampled_from(PATHS),
        "segment": SEGMENTS,
        "body": BODIES,
        "etag": st.none() | HEADER_TEXT | st.sampled_from(['"v1"', 'W/"v1"', "*"]),
        "key": st.none() | HEADER_TEXT,
    }
)


def send(client: httpx.Client, request: dict) -> httpx.Response:
    path = request["template"].format(quote(str(request["segment"]), safe=""))
    headers = {"If-None-Match": request["etag"], "Idempotency-Key": request["key"]}
    headers = {k: v for k, v in headers.items() if v is not None}
    body = request["body"]
    if isinstance(body, bytes):
        return client.request(request["method"], path, content=body, headers=headers)
    return client.request(request["method"], path, json=body, headers=headers)


@pytest.mark.parametrize("name", sorted(APPS))
def test_a_shop_app_answers_any_request_without_a_server_error(name):
    with (
        serve_app(APPS[name](), name=f"property-{name}") as run,
        httpx.Client(base_url=run.url, timeout=5.0) as client,
    ):

        @settings(
            max_examples=200,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(request=REQUESTS)
        def never_5xx(request):
            reply = send(client, request)
            assert reply.status_code < 500, f"{request} -> {reply.status_code} {reply.text[:200]}"

        never_5xx()


@pytest.mark.parametrize(
    ("name", "method", "path"),
    [("orders", "POST", "/orders"), ("inventory", "PUT", "/products/sku-0001/price")],
)
def test_a_body_that_is_not_text_gets_a_422_and_not_a_server_error(name, method, path):
    with serve_app(APPS[name](), name=f"bytes-{name}") as run:
        reply = httpx.request(method, run.url + path, content=b"\x80\x81")

    assert reply.status_code == 422
