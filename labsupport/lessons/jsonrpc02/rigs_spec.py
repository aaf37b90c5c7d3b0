"""Replay section 7 of the JSON-RPC 2.0 specification against a server, example by example.

Each example is the exact text the specification sends and the reply it shows (None where
it shows none). Errors are compared by code only (messages are free text), and a batch's
replies in any order, since the specification lets a server answer them in any order.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

SPEC_EXAMPLES: list[tuple[str, str, Any]] = [
    ("positional params", '{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}',
     {"jsonrpc": "2.0", "result": 19, "id": 1}),
    ("positional params, swapped", '{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}',
     {"jsonrpc": "2.0", "result": -19, "id": 2}),
    ("named params", '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}',
     {"jsonrpc": "2.0", "result": 19, "id": 3}),
    ("named params, other order", '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}',
     {"jsonrpc": "2.0", "result": 19, "id": 4}),
    ("a notification", '{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}', None),
    ("a notification of a missing method", '{"jsonrpc": "2.0", "method": "foobar"}', None),
    ("a method that does not exist", '{"jsonrpc": "2.0", "method": "foobar", "id": "1"}',
     {"jsonrpc": "2.0", "error": {"code": -32601}, "id": "1"}),
    ("invalid JSON", '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]',
     {"jsonrpc": "2.0", "error": {"code": -32700}, "id": None}),
    ("an invalid Request object", '{"jsonrpc": "2.0", "method": 1, "params": "bar"}',
     {"jsonrpc": "2.0", "error": {"code": -32600}, "id": None}),
    ("a batch that is invalid JSON", '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method"]',
     {"jsonrpc": "2.0", "error": {"code": -32700}, "id": None}),
    ("an empty batch", "[]", {"jsonrpc": "2.0", "error": {"code": -32600}, "id": None}),
    ("a batch of one non-request", "[1]", [{"jsonrpc": "2.0", "error": {"code": -32600}, "id": None}]),
    ("a batch of three non-requests", "[1,2,3]",
     [{"jsonrpc": "2.0", "error": {"code": -32600}, "id": None}] * 3),
    ("a mixed batch",
     '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},'
     ' {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},'
     ' {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},'
     ' {"foo": "boo"},'
     ' {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},'
     ' {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]',
     [{"jsonrpc": "2.0", "result": 7, "id": "1"},
      {"jsonrpc": "2.0", "result": 19, "id": "2"},
      {"jsonrpc": "2.0", "error": {"code": -32600}, "id": None},
      {"jsonrpc": "2.0", "error": {"code": -32601}, "id": "5"},
      {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}]),
    ("a batch of notifications only",
     '[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},'
     ' {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]', None),
]  # fmt: skip


def canonical(reply: Any) -> Any:
    """Reduce a reply (object or batch) to what the specification fixes, batches sorted."""
    if isinstance(reply, list):
        return sorted((canonical(r) for r in reply), key=json.dumps)
    if not isinstance(reply, dict):
        return ("not a reply object", reply)
    outcome = (
        ("error", reply["error"].get("code"))
        if "error" in reply
        else ("result", reply.get("result"))
    )
    return [reply.get("jsonrpc"), json.dumps(reply.get("id", "<no id>")), *outcome]  # fmt: skip


def replay_spec_examples(url: str, path: str = "/rpc") -> list[dict]:
    """POST every section 7 example to url+path; return one row per example, with `ok`."""
    rows = []
    with httpx.Client(base_url=url, timeout=5.0) as client:
        for title, text, expected in SPEC_EXAMPLES:
            reply = client.post(path, content=text, headers={"Content-Type": "application/json"})
            rows.append({"example": title, **judge(reply, expected)})
    return rows


def judge(reply: httpx.Response, expected: Any) -> dict:
    """Compare one HTTP reply with the specification's expected JSON-RPC reply (or none)."""
    got = f"{reply.status_code} {reply.text[:70]}" if reply.content else str(reply.status_code)
    if expected is None:
        return {"expected": "no reply (204)", "got": got, "ok": reply.status_code == 204}
    try:
        body = reply.json()
    except ValueError:
        return {"expected": _short(expected), "got": got, "ok": False}
    ok = reply.status_code == 200 and canonical(body) == canonical(expected)
    ok = ok and reply.headers.get("content-type", "").startswith("application/json")
    return {"expected": _short(expected), "got": got, "ok": ok}


def _short(expected: Any) -> str:
    text = json.dumps(expected)
    return text if len(text) <= 70 else text[:67] + "..."
