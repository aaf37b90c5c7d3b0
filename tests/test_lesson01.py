"""Lesson 01: its checks pass a correct answer, fail blanks and wrong ones; its apps never 5xx."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import time
from urllib.parse import quote

import httpx
import nbformat
import pytest
from _checktests import failed_cases, solution_and_blank_tests, wrong_answer_tests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport import config, serve_app
from labsupport.checks import load_answers
from labsupport.lessons.rest01 import (
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


# --- answers: the real solution, the blank exercise, and wrong answers made from the solution

SOLUTION = config.REPO_ROOT / "solutions" / NOTEBOOK
EXERCISE = config.REPO_ROOT / "exercises" / NOTEBOOK
TASKS = {  # task id: (its check, the name the notebook defines)
    "retry_get": (check_retry_get, "get_with_retries"),
    "circuit_breaker": (check_circuit_breaker, "CircuitBreaker"),
    "gateway": (check_gateway, "fetch_account_page"),
}
SOLVED, BLANK = load_answers(SOLUTION), load_answers(EXERCISE)

# Each wrong answer is the solution with one mistake a tired or clever learner makes,
# and the cases it must fail: exactly those, each a substring of one case's name.
_SLEEP = "        if time.monotonic() + wait_s > deadline:\n            break\n"
WRONG_RETRIES = {
    # the answers tested before this round
    "retries a 404": (("status_code < 500 and reply.status_code != 429", "status_code < 400"),
                      ["(404)", "(400, 409, 422)"]),
    "ignores the deadline": ((_SLEEP, ""), ["past the deadline", "every call is slow"]),
    "backs off without jitter": (("random.uniform(0, min(max_delay_s, base_delay_s * 2**attempt))",
                                  "min(max_delay_s, base_delay_s * 2**attempt)"), ["random amount"]),
    # ours
    "takes only a 200 as success": (("if reply.status_code < 500 and reply.status_code != 429:",
                                     "if reply.status_code == 200 or 400 <= reply.status_code < 429:"),
                                    ["201 at once"]),
    "returns at once only for a 404": (("status_code < 500 and reply.status_code != 429",
                                        "status_code < 400 or reply.status_code == 404"),
                                       ["(400, 409, 422)"]),
    "returns None when the service keeps failing": (("        raise error\n    return reply",
                                                     "        raise error\n    return None"),
                                                    ["keeps failing"]),
    "returns None when no call got a reply": (("    if error is not None:\n        raise error\n", ""),
                                              ["never comes back"]),
    "does not retry connection errors": (("except httpx.TransportError as exc:",
                                          "except httpx.HTTPStatusError as exc:"),
                                         ["short outage"]),
    "draws every wait under the first one": (("uniform(0, min(max_delay_s, base_delay_s * 2**attempt))",
                                              "uniform(0, base_delay_s)"), ["random amount"]),
    "lets the waits grow past max_delay_s": (("uniform(0, min(max_delay_s, base_delay_s * 2**attempt))",
                                              "uniform(0, base_delay_s * 2**attempt)"), ["max_delay_s between"]),
    "caps Retry-After at max_delay_s": (("max(wait_s, retry_after_s(reply))",
                                         "max(wait_s, min(max_delay_s, retry_after_s(reply)))"),
                                        ["on a 429"]),
    "reads Retry-After only on a 429": (("        if reply is not None:\n",
                                         "        if reply is not None and reply.status_code == 429:\n"),
                                        ["HTTP date"]),
    "reads Retry-After as seconds only": (("max(wait_s, retry_after_s(reply))",
                                           'max(wait_s, float(reply.headers.get("Retry-After", 0)))'),
                                          ["HTTP date"]),
    "checks the deadline before the wait, not its end": (("if time.monotonic() + wait_s > deadline:",
                                                          "if time.monotonic() > deadline:"),
                                                         ["past the deadline"]),
    "counts only the waits against the deadline": (
        (_SLEEP + "        time.sleep(wait_s)\n",
         "        if waited_s + wait_s > deadline_s:\n            break\n"
         "        waited_s += wait_s\n        time.sleep(wait_s)\n"),
        ["every call is slow"], ("    deadline = time.monotonic() + deadline_s\n", "    waited_s = 0.0\n")),
}  # fmt: skip
_REFUSE = 'if state == "open" or (state == "half_open" and self.trial_running):'
WRONG_BREAKERS = {
    "never half-opens": (('            return "half_open"', '            return "open"'),
                         ["is half-open", "keeps its cool-down", "one trial call", "failed trial",
                          "successful trial"]),
    "closes straight after the cool-down": (
        ('            return "half_open"',
         '            self.opened_at, self.failures = None, 0\n            return "closed"'),
        ["is half-open", "one trial call", "failed trial"]),
    "keeps calling while open": ((_REFUSE, 'if state == "half_open" and self.trial_running:'),
                                 ["fails fast", "failed trial"]),
    "counts failures in total": (("self.failures, self.opened_at, self.trial_running = 0, None, False",
                                  "self.opened_at, self.trial_running = None, False"),
                                 ["in a row, not in total", "successful trial"]),
    # ours
    "opens one failure late": (("self.failures >= self.failure_threshold",
                                "self.failures > self.failure_threshold"),
                               ["exactly failure_threshold"]),
    "opens one failure early": (("self.failures >= self.failure_threshold",
                                 "self.failures >= self.failure_threshold - 1"),
                                ["exactly failure_threshold", "in a row, not in total",
                                 "successful trial"]),
    "counts only httpx errors": (("        except Exception:\n", "        except httpx.HTTPError:\n"),
                                 ["any exception"]),
    "swallows fn's exception": (("                self.trial_running = False\n            raise",
                                 "                self.trial_running = False\n            return None"),
                                ["own exception"]),
    "refused calls restart the cool-down": (
        (_REFUSE, 'if state == "open":\n                self.opened_at = time.monotonic()\n'
                  "            " + _REFUSE),
        ["keeps its cool-down"]),
    "lets every caller try in half-open": ((_REFUSE, 'if state == "open":'), ["one trial call"]),
    "a failed trial leaves the old cool-down": (
        ('if state == "half_open" or self.failures >= self.failure_threshold:',
         'if state != "half_open" and self.failures >= self.failure_threshold:'),
        ["failed trial"]),
    "a good trial keeps the old failures": (
        ("            self.failures, self.opened_at, self.trial_running = 0, None, False",
         '            if state == "closed":\n                self.failures = 0\n'
         "            self.opened_at, self.trial_running = None, False"),
        ["successful trial"]),
    "refuses with a RuntimeError": (("raise CircuitOpenError(", "raise RuntimeError("),
                                    ["fails fast", "one trial call"]),
    "returns None instead of fn's result": (("        return result\n", "        return None\n"),
                                            ["healthy"]),
}  # fmt: skip
_FETCH = "reply = await asyncio.wait_for(client.get(url), timeout_s)"
_GATHER = "results = await asyncio.gather(*(fetch(urls[n]) for n in names), return_exceptions=True)"
_FAILURES = [
    "refuses connections",
    "5xx",
    "4xx",
    "never answers",
    "trickles",
    "every service fails",
]
WRONG_GATEWAYS = {
    "calls one service after another": (
        (_GATHER, "results = []\n    for n in names:\n        try:\n"
                  "            results.append(await fetch(urls[n]))\n"
                  "        except Exception as exc:\n            results.append(exc)"),
        ["same time"]),
    "calls two at once, then the third": (
        (_GATHER, "results = list(await asyncio.gather(*(fetch(urls[n]) for n in names[:2]),"
                  " return_exceptions=True))\n"
                  "    results += await asyncio.gather(fetch(urls[names[2]]), return_exceptions=True)"),
        ["same time"]),
    "fails entirely when one part fails": (("return_exceptions=True", "return_exceptions=False"),
                                           _FAILURES),
    "has no timeout": ((_FETCH, "reply = await client.get(url)"), ["never answers", "trickles"]),
    # ours
    "limits each read, not the call": ((_FETCH, "reply = await client.get(url, timeout=timeout_s)"),
                                       ["trickles"]),
    "takes a 4xx reply as data": (("        reply.raise_for_status()\n",
                                   "        if reply.status_code >= 500:\n"
                                   "            reply.raise_for_status()\n"), ["4xx"]),
    "never looks at the status": (("        reply.raise_for_status()\n", ""),
                                  ["5xx", "4xx", "every service fails"]),
    "one timeout for the whole page": (
        (_GATHER, "results = await asyncio.wait_for(asyncio.gather(*(fetch(urls[n]) for n in names),"
                  " return_exceptions=True), timeout_s)"),
        ["never answers", "trickles", "every service fails"],
        (_FETCH, "reply = await client.get(url)")),
    "raises when no part came back": (
        ('    return {"parts": parts,',
         '    if not parts:\n        raise RuntimeError("nothing to show")\n    return {"parts": parts,'),
        ["every service fails"]),
    "keeps failed parts as None": (
        ("parts = {n: r for n, r in zip(names, results, strict=True) if not isinstance(r, BaseException)}",
         "parts = {n: None if isinstance(r, BaseException) else r for n, r in zip(names, results)}\n"
         '    return {"parts": parts, "missing": sorted(n for n in names if parts[n] is None)}'),
        _FAILURES),
    "catches only httpx errors": (
        ("        reply.raise_for_status()\n        return reply.json()\n",
         "        reply.raise_for_status()\n        return reply.json()\n\n"
         "    async def fetch_or_error(url: str):\n        try:\n            return await fetch(url)\n"
         "        except httpx.HTTPError as exc:\n            return exc\n"),
        ["never answers", "trickles", "every service fails"],
        ("(fetch(urls[n]) for n in names), return_exceptions=True",
         "(fetch_or_error(urls[n]) for n in names)")),
    "adds a second of headroom": ((_FETCH, "reply = await asyncio.wait_for(client.get(url), timeout_s + 1)"),
                                       ["never answers", "trickles"]),
    "returns the replies, not their JSON": (("        return reply.json()\n", "        return reply\n"),
                                            ["all services are up", "same time", "refuses connections",
                                             "5xx", "4xx", "never answers", "trickles"]),
}  # fmt: skip
WRONG = {"retry_get": WRONG_RETRIES, "circuit_breaker": WRONG_BREAKERS, "gateway": WRONG_GATEWAYS}
EARLIER = {"retry_get": 3, "circuit_breaker": 4, "gateway": 3}  # the answers tested before ours


def wrong_answer(task_id: str, mistake: str):
    """Load the solution with the mistake's edits applied; return the task's function or class."""
    first, _cases, *more = WRONG[task_id][mistake]
    return load_answers(SOLUTION, edits=[first, *more])[TASKS[task_id][1]]


test_the_solution_passes_every_case_five_runs_in_a_row, test_an_untouched_task_scores_zero = (
    solution_and_blank_tests(TASKS, SOLVED, BLANK, runs=5, min_cases=8)
)


(
    test_a_wrong_answer_fails_exactly_the_cases_that_target_its_mistake,
    test_every_task_has_at_least_eight_wrong_answers_of_our_own,
) = wrong_answer_tests(TASKS, WRONG, EARLIER, wrong_answer)


def test_a_failed_case_names_the_symptom_and_not_the_answer():
    report = check_circuit_breaker.run(wrong_answer("circuit_breaker", "counts failures in total"))

    message = failed_cases(report)["counts failures in a row, not in total"]
    assert message == "fail, fail, success, fail, fail left it 'open' with failure_threshold=3"
    assert "opened_at" not in str(report) and "self.failures" not in str(report)


def test_no_hint_names_a_library_call_that_solves_the_task():
    fixes = ("asyncio.gather", "wait_for", "timeout=", "random.uniform", "raise_for_status")
    for check, name in TASKS.values():
        report = check.run(BLANK[name])
        hints = " ".join(c.hint for c in report.cases)
        assert hints and not [fix for fix in fixes if fix in hints], hints


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
