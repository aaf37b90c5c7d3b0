"""Lesson 02: the reference server keeps the JSON-RPC 2.0 rules; its checks pass the solution,
fail the blank and the wrong answers a learner plausibly writes."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json

import httpx
import nbformat
import pytest
from _checktests import assert_fails_its_cases, solution_and_blank_tests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport import config, serve_app
from labsupport.checks import load_answers
from labsupport.lessons.jsonrpc02 import (
    RpcError,
    check_batcher,
    check_dispatcher,
    make_jsonrpc_app,
    replay_spec_examples,
)
from labsupport.waiting import wait_until

NOTEBOOK = "02_json_rpc.ipynb"


SOLVED = load_answers(config.REPO_ROOT / "solutions" / NOTEBOOK, keep=["METHODS"])
BLANK = load_answers(config.REPO_ROOT / "exercises" / NOTEBOOK, keep=["METHODS"])
CHECKS = {"dispatcher": (check_dispatcher, "handle"), "batcher": (check_batcher, "Batcher")}


test_the_solution_notebook_passes_every_case, test_the_blank_exercise_scores_zero = (
    solution_and_blank_tests(CHECKS, SOLVED, BLANK, runs=3, min_cases=10)
)


def test_the_exercise_keeps_the_docstrings_and_hides_the_solutions():
    exercise = nbformat.read(config.REPO_ROOT / "exercises" / NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in exercise.cells if c.cell_type == "code")

    for name in ("def handle(", "class Batcher:", "async def call(", "def answer_one("):
        assert name in code
    for leaked in ("signature.bind", "wait_for", "-32602", "BEGIN SOLUTION"):
        assert leaked not in code


# --- wrong dispatchers: one mistake each --------------------------------------------------


def make_handle(**mistakes):
    """Build handle(body, methods) with the named mistakes switched on."""
    m = (
        dict.fromkeys(
            "answers_notifications drops_ids ids_as_text null_id_is_notification "
            "named_by_position empty_batch_list whole_batch_fails silent_batch_list "
            "crashes_on_bad_json only_json_errors params_are_internal everything_internal "
            "no_version_check omits_null_result reports_failed_notifications skips_notifications "
            "lets_bugs_out".split(),
            False,
        )
        | mistakes
    )

    def error(request_id, code, message, data=None):
        body = {"code": code, "message": message} | ({} if data is None else {"data": data})
        return {"jsonrpc": "2.0", "error": body, "id": request_id}

    def one(request, methods):
        if (
            not isinstance(request, dict)
            or (request.get("jsonrpc") != "2.0" and not m["no_version_check"])
            or not isinstance(request.get("method"), str)
            or not isinstance(request.get("params", []), list | dict)
        ):
            return error(None, -32600, "Invalid Request")
        notification = (
            request.get("id") is None if m["null_id_is_notification"] else "id" not in request
        )
        request_id, params = request.get("id"), request.get("params", [])
        if m["ids_as_text"] and request_id is not None:
            request_id = str(request_id)
        if notification and m["skips_notifications"]:
            return None
        fn = methods.get(request["method"])
        if fn is None:
            reply = error(request_id, -32601, "Method not found")
        else:
            if isinstance(params, dict) and m["named_by_position"]:
                params = list(params.values())
            try:
                sig = inspect.signature(fn)
                bound = sig.bind(*params) if isinstance(params, list) else sig.bind(**params)
            except TypeError:
                code = -32603 if m["params_are_internal"] else -32602
                reply = error(request_id, code, "Invalid params")
            else:
                try:
                    result = fn(*bound.args, **bound.kwargs)
                    reply = {"jsonrpc": "2.0", "result": result, "id": request_id}
                    if result is None and m["omits_null_result"]:
                        del reply["result"]
                except RpcError as exc:
                    code = -32603 if m["everything_internal"] else exc.code
                    reply = error(request_id, code, exc.message, exc.data)
                except Exception:
                    if m["lets_bugs_out"]:
                        raise
                    reply = error(request_id, -32603, "Internal error")
        if m["drops_ids"]:
            reply.pop("id", None)
        if notification and not m["answers_notifications"]:
            if not (m["reports_failed_notifications"] and "error" in reply):
                return None
        return reply

    caught = json.JSONDecodeError if m["only_json_errors"] else ValueError

    def handle(body, methods):
        try:
            message = json.loads(body.decode("utf-8"))
        except caught:
            if m["crashes_on_bad_json"]:
                raise
            return json.dumps(error(None, -32700, "Parse error")).encode()
        if isinstance(message, list):
            if not message and not m["empty_batch_list"]:
                return json.dumps(error(None, -32600, "Invalid Request")).encode()
            if m["whole_batch_fails"] and not all(isinstance(r, dict) for r in message):
                return json.dumps(error(None, -32600, "Invalid Request")).encode()
            replies = [r for r in (one(x, methods) for x in message) if r is not None]
            if not replies and message and not m["silent_batch_list"]:
                return None
            return json.dumps(replies).encode()
        reply = one(message, methods)
        return None if reply is None else json.dumps(reply).encode()

    return handle


WRONG_HANDLES = [
    ("answers notifications", "answers_notifications", "does not answer a notification"),
    ("drops ids", "drops_ids", "answers a call with its result and the same id"),
    ("turns ids into text", "ids_as_text", "keeps the type of each id"),
    ("takes id null for a notification", "null_id_is_notification", "whose id is null"),
    ("passes named params by position", "named_by_position", "passes named params by name"),
    ("answers an empty batch with []", "empty_batch_list", "answers an empty batch"),
    ("fails a whole batch for one bad element", "whole_batch_fails", "each bad element"),
    ("answers notifications-only batches with []", "silent_batch_list", "notifications only"),
    ("crashes on bad JSON", "crashes_on_bad_json", "not JSON with -32700"),
    ("catches only JSONDecodeError", "only_json_errors", "not UTF-8 text"),
    ("reports bad params as internal errors", "params_are_internal", "-32602"),
    ("turns every error into -32603", "everything_internal", "passes on the code of an RpcError"),
    ("accepts any jsonrpc version", "no_version_check", "breaks the rules with -32600"),
    ("omits a null result", "omits_null_result", '"result": null'),
    ("answers failed notifications", "reports_failed_notifications", "notification fails"),
    ("never runs notifications", "skips_notifications", "runs a notification's method"),
    ("lets a method's bug out", "lets_bugs_out", "-32603, without crashing"),
]


@pytest.mark.parametrize(
    ("mistake", "flag", "case"), WRONG_HANDLES, ids=[w[0] for w in WRONG_HANDLES]
)
def test_the_dispatcher_check_fails_a_known_wrong_answer(mistake, flag, case):
    assert_fails_its_cases(check_dispatcher.run(make_handle(**{flag: True})), case)


def test_the_flagged_dispatcher_without_mistakes_passes():
    """The wrong answers above differ from a passing one by their one flag only."""
    assert check_dispatcher.run(make_handle()).status == "passed"


# --- wrong batchers: one mistake each -----------------------------------------------------


def make_batcher(**mistakes):
    """Build a Batcher class with the named mistakes switched on."""
    m = (
        dict.fromkeys(
            "no_batching by_position same_id error_as_result one_error_fails_all "
            "waits_for_timeout sliding_window no_timeout ignores_batch_error".split(),
            False,
        )
        | mistakes
    )

    class Batcher:
        def __init__(self, client, url, *, window_s=0.01, timeout_s=1.0):
            self.client, self.url, self.window_s, self.timeout_s = client, url, window_s, timeout_s
            self.pending, self.ids, self.sender = {}, itertools.count(1), None

        async def call(self, method, params=None):
            request_id = 1 if m["same_id"] else next(self.ids)
            request = {"jsonrpc": "2.0", "method": method, "id": request_id}
            if params is not None:
                request["params"] = params
            future = asyncio.get_running_loop().create_future()
            self.pending[next(self.ids) if m["same_id"] else request_id] = (request, future)
            if m["no_batching"]:
                asyncio.create_task(self.send(dict([self.pending.popitem()])))
            elif m["sliding_window"]:
                if self.sender is not None:
                    self.sender.cancel()
                self.sender = asyncio.create_task(self.send_later())
            elif self.sender is None:
                self.sender = asyncio.create_task(self.send_later())
            reply = await (future if m["no_timeout"] else asyncio.wait_for(future, self.timeout_s))
            if "error" in reply and not m["error_as_result"]:
                e = reply["error"]
                raise RpcError(e.get("code"), e.get("message", ""), e.get("data"))
            return reply.get("result", reply.get("error"))

        async def send_later(self):
            await asyncio.sleep(self.timeout_s * 0.3 if m["waits_for_timeout"] else self.window_s)
            batch, self.pending, self.sender = self.pending, {}, None
            await self.send(batch)

        async def send(self, batch):
            answer = await self.client.post(
                self.url, json=[r for r, _ in batch.values()], timeout=self.timeout_s + 1
            )
            replies = answer.json()
            if isinstance(replies, dict) and not m["ignores_batch_error"]:
                replies = [{**replies, "id": r["id"]} for r, _ in batch.values()]
            if m["one_error_fails_all"] and any("error" in r for r in replies):
                bad = next(r for r in replies if "error" in r)
                replies = [{**bad, "id": r["id"]} for r, _ in batch.values()]
            futures = [f for _, f in batch.values()]
            if m["by_position"]:
                pairs = zip(futures, replies, strict=False)
            else:
                by_id = {json.dumps(r.get("id")): r for r in replies}
                pairs = [(f, by_id.get(json.dumps(r["id"]))) for r, f in batch.values()]
            for future, reply in pairs:
                if reply is not None and not future.done():
                    future.set_result(reply)

    return Batcher


WRONG_BATCHERS = [
    ("sends every call alone", "no_batching", "sends calls made together as one batch"),
    ("matches replies by position", "by_position", "come back in another order"),
    ("gives every call the same id", "same_id", "an id of its own"),
    ("returns the error as a result", "error_as_result", "raises RpcError"),
    ("fails the whole batch for one error", "one_error_fails_all", "fails only the caller"),
    ("sends only at the timeout", "waits_for_timeout", "a lone call soon after its window"),
    ("restarts the window on every call", "sliding_window", "a steady stream of calls"),
    ("never times out a lost reply", "no_timeout", "reply never comes"),
    ("misreads a refused batch", "ignores_batch_error", "refuses the whole batch"),
]


@pytest.mark.parametrize(
    ("mistake", "flag", "case"), WRONG_BATCHERS, ids=[w[0] for w in WRONG_BATCHERS]
)
def test_the_batcher_check_fails_a_known_wrong_answer(mistake, flag, case):
    assert_fails_its_cases(check_batcher.run(make_batcher(**{flag: True})), case)


def test_the_flagged_batcher_without_mistakes_passes():
    assert check_batcher.run(make_batcher()).status == "passed"


# --- the reference server -----------------------------------------------------------------


@pytest.fixture
def reference():
    app = make_jsonrpc_app()
    with serve_app(app, name="test-jsonrpc") as run:
        yield app, run


def test_every_section_7_example_of_the_specification_passes(reference):
    _, run = reference

    rows = replay_spec_examples(run.url)

    assert len(rows) == 15
    assert [r["example"] for r in rows if not r["ok"]] == []


def test_a_notification_gets_an_empty_204_and_its_work_still_runs(reference):
    app, run = reference
    before = len(app.state.noted)
    notification = {"jsonrpc": "2.0", "method": "notify_sum", "params": [1, 2, 4]}

    reply = httpx.post(f"{run.url}/rpc", json=notification)

    assert (reply.status_code, reply.content) == (204, b"")
    wait_until(lambda: len(app.state.noted) > before, 5, "the notification's work")
    assert app.state.noted[before:] == [("notify_sum", [1, 2, 4])]


METHOD_NAMES = ["subtract", "sum", "get_data", "update", "notify_hello", "notify_sum",
                "price", "reserve", "crash", "foobar", "rpc.x", ""]  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
IDS = (
    st.none()
    | st.integers()
    | st.text(max_size=6)
    | st.floats(allow_nan=False)
    | st.booleans()
    | JSON
)
REQUEST = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2.0]) | JSON,
        "method": st.sampled_from(METHOD_NAMES) | st.text(max_size=8) | JSON,
        "params": st.lists(JSON, max_size=3)
        | st.dictionaries(
            st.sampled_from(["minuend", "subtrahend", "sku", "qty", "x"]), JSON, max_size=3
        )
        | JSON,
        "id": IDS,
    },
)
BODIES = st.one_of(
    st.binary(max_size=60),
    JSON.map(lambda v: json.dumps(v).encode()),
    REQUEST.map(lambda v: json.dumps(v).encode()),
    st.lists(REQUEST | JSON, max_size=5).map(lambda v: json.dumps(v).encode()),
    st.text(max_size=40).map(str.encode),
)  # fmt: skip


def refuse(name: str):
    raise ValueError(f"{name} is not JSON")


def is_reply_object(reply) -> bool:
    if not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0" or "id" not in reply:
        return False
    if ("result" in reply) == ("error" in reply):
        return False
    if "error" in reply:
        error = reply["error"]
        return isinstance(error.get("code"), int) and isinstance(error.get("message"), str)
    return True


def test_any_bytes_posted_get_204_or_a_valid_json_rpc_reply_and_never_a_500(reference):
    _, run = reference
    with httpx.Client(base_url=run.url, timeout=5.0) as client:

        @settings(max_examples=150, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
        @given(body=BODIES)
        def answers_by_the_rules(body):
            reply = client.post("/rpc", content=body)
            if reply.status_code == 204:
                assert reply.content == b""
                return
            assert reply.status_code == 200, f"{body!r} -> {reply.status_code} {reply.text[:200]}"
            assert reply.headers["content-type"].startswith("application/json")
            parsed = json.loads(reply.content, parse_constant=refuse)  # no NaN or Infinity
            replies = parsed if isinstance(parsed, list) else [parsed]
            assert replies and all(is_reply_object(r) for r in replies), (
                f"{body!r} -> {parsed!r:.300}"
            )

        answers_by_the_rules()
