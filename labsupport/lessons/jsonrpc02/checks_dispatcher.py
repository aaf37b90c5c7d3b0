"""Check lesson 02's first task: a spec-complete JSON-RPC 2.0 dispatcher, handle(body, methods).

The learner's handle is served behind a real `POST /rpc` (None -> 204, bytes -> 200) and
fed the specification's rules one case at a time, plus a few edge cases the exercise
does not spell out. Each case judges one rule, so one mistake fails one case.
"""

from __future__ import annotations

import json

from labsupport.checks import task

from ._fixtures import serve_handle
from .services_methods import make_spec_methods


def call(method: str, params=None, request_id=1, *, with_id: bool = True) -> dict:
    request = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        request["params"] = params
    if with_id:
        request["id"] = request_id
    return request


def send(post, message) -> object:
    return post(json.dumps(message).encode())


def code_of(reply) -> object:
    assert isinstance(reply, dict), f"expected one reply object, got {json.dumps(reply)[:80]}"
    assert isinstance(reply.get("error"), dict), f"expected an error reply, got {json.dumps(reply)[:90]}"  # fmt: skip
    return reply["error"].get("code")


@task("dispatcher", lesson="02", title="A spec-complete JSON-RPC 2.0 dispatcher", timeout_s=5)
def check_dispatcher(case, handle):
    """Judge handle(body: bytes, methods) -> bytes | None against the JSON-RPC 2.0 rules."""
    noted: list = []
    methods = make_spec_methods(noted, with_work=False)
    with serve_handle(handle, methods) as post:
        with case("answers a call with its result and the same id",
                  hint="The reply must carry the id of the request it answers."):  # fmt: skip
            reply = send(post, call("subtract", [42, 23], 1)).reply()
            assert isinstance(reply, dict), f"expected one reply object, got {reply!r:.80}"
            assert reply.get("result") == 19, f"subtract(42, 23) gave {reply!r:.90}"
            assert "id" in reply and reply["id"] == 1, (
                f"the request had id 1, the reply {reply!r:.90}"
            )

        with case("keeps the type of each id: a string stays a string, a number a number",
                  hint="Send the id back exactly as it came: \"7\" and 7 are different ids."):  # fmt: skip
            for request_id in ("abc-7", "7", 7, 2.5):
                reply = send(post, call("get_data", None, request_id)).reply()
                got = reply.get("id", "<no id>") if isinstance(reply, dict) else reply
                assert got == request_id and type(got) is type(request_id), (
                    f"id {request_id!r} came back as {got!r}"
                )

        with case("passes named params by name",
                  hint="params may be an object: match its members to the method's parameter names."):  # fmt: skip
            message = call("subtract", {"subtrahend": 23, "minuend": 42}, 3)
            reply = send(post, message).reply()
            assert reply.get("result") == 19, (
                f"subtract(subtrahend=23, minuend=42) gave {reply!r:.90}"
            )

        with case('answers a request whose id is null ("id": null is not a notification)',
                  hint="Only a request without an id member is a notification; null is an id value."):  # fmt: skip
            answer = send(post, call("subtract", [42, 23], None))
            assert answer.status != 204, 'a request with "id": null got no reply'
            reply = answer.reply()
            assert reply.get("result") == 19 and "id" in reply and reply["id"] is None, (
                f'the reply to "id": null was {reply!r:.90}'
            )

        with case("does not answer a notification",
                  hint="A request without an id member gets no reply at all: return None."):  # fmt: skip
            answer = send(post, call("update", [1, 2, 3, 4, 5], with_id=False))
            assert answer.status == 204, f"a notification was answered: {answer.body[:80]!r}"

        with case("runs a notification's method",
                  hint="No reply does not mean no work: the method still runs."):  # fmt: skip
            noted.clear()
            send(post, call("notify_hello", [7], with_id=False))
            assert ("notify_hello", [7]) in noted, f"notify_hello(7) did not run (ran: {noted})"

        with case("stays silent when a notification fails",
                  hint="Errors in notifications are not reported either: nobody waits for them."):  # fmt: skip
            for message in (call("foobar", with_id=False), call("subtract", [1], with_id=False),
                            call("crash", with_id=False)):  # fmt: skip
                answer = send(post, message)
                assert answer.status == 204, (
                    f"a failing notification ({message['method']}) was answered: {answer.body[:80]!r}"
                )

        with case("answers a body that is not JSON with -32700",
                  hint="Bad JSON is the client's mistake: answer it with an error, do not crash."):  # fmt: skip
            reply = post(b'{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]').reply()
            assert code_of(reply) == -32700, f"invalid JSON got code {code_of(reply)}"
            assert reply.get("id", "<no id>") is None, (
                f"the parse error's id was {reply.get('id', '<no id>')!r}"
            )

        with case("answers bytes that are not UTF-8 text with -32700",
                  hint="Bytes that do not decode are not JSON either: which exception does that raise?"):  # fmt: skip
            reply = post(b'{"jsonrpc": "2.0", "method": "\xff\xfe", "id": 1}').reply()
            assert code_of(reply) == -32700, f"undecodable bytes got code {code_of(reply)}"

        with case("refuses a Request object that breaks the rules with -32600",
                  hint='Check "jsonrpc" is exactly "2.0", "method" a string, "params" an array or object.'):  # fmt: skip
            bad = [{"jsonrpc": "2.0", "method": 1, "params": "bar"},
                   {"method": "subtract", "params": [42, 23], "id": 5},
                   {"jsonrpc": "1.0", "method": "subtract", "params": [42, 23], "id": 5},
                   {"jsonrpc": "2.0", "method": "subtract", "params": "42,23", "id": 5},
                   "subtract"]  # fmt: skip
            for message in bad:
                reply = send(post, message).reply()
                assert code_of(reply) == -32600, f"{json.dumps(message)} got code {code_of(reply)}"
                assert reply.get("id", "<no id>") in (None, 5), f"its reply had id {reply.get('id', '<no id>')!r}"  # fmt: skip

        with case("answers an unknown method with -32601",
                  hint="A method that is not in the table is its own error code."):  # fmt: skip
            reply = send(post, call("foobar", None, "1")).reply()
            assert code_of(reply) == -32601, f"an unknown method got code {code_of(reply)}"
            assert reply.get("id") == "1", f"its reply had id {reply.get('id', '<no id>')!r}"

        with case("answers params that do not fit the method with -32602",
                  hint="Too few, too many or unknown named params are the caller's mistake, not a bug."):  # fmt: skip
            for params in ([42], [1, 2, 3], {"minuend": 42}, {"minuend": 42, "x": 1}):
                reply = send(post, call("subtract", params, 9)).reply()
                assert code_of(reply) == -32602, f"subtract with params {json.dumps(params)} got code {code_of(reply)}"  # fmt: skip

        with case("answers a method that raises with -32603, without crashing",
                  hint="A bug inside a method is an internal error reply, not an exception out of handle."):  # fmt: skip
            reply = send(post, call("crash", None, 4)).reply()
            assert code_of(reply) == -32603, f"a method that raised got code {code_of(reply)}"
            assert reply.get("id") == 4, f"its reply had id {reply.get('id', '<no id>')!r}"

        with case("passes on the code of an RpcError a method raises",
                  hint="RpcError carries its own code, message and data: send those."):  # fmt: skip
            reply = send(post, call("reserve", ["mug-blue", 5], 6)).reply()
            assert code_of(reply) == -32001, (
                f"the out-of-stock error arrived as code {code_of(reply)}"
            )
            assert reply["error"].get("data") == {"sku": "mug-blue", "left": 3}, (
                f"its data arrived as {reply['error'].get('data', '<none>')!r}"
            )

        with case('answers "result": null for a method that returns nothing',
                  hint="A call with an id always gets a result member, even when it is null."):  # fmt: skip
            reply = send(post, call("update", [1], 8)).reply()
            assert isinstance(reply, dict) and "result" in reply and reply["result"] is None, (
                f"the reply to update(1) was {reply!r:.90}"
            )

        with case("sends well-formed replies: jsonrpc 2.0, an id, and either result or error",
                  hint='Each reply has "jsonrpc": "2.0", an "id", and exactly one of "result" or "error".'):  # fmt: skip
            for message in (
                call("subtract", [1, 1], 1),
                call("foobar", None, 2),
                call("crash", None, 3),
            ):
                reply = send(post, message).reply()
                members = sorted(reply) if isinstance(reply, dict) else reply
                assert (
                    isinstance(reply, dict) and reply.get("jsonrpc") == "2.0" and "id" in reply
                ), f"a reply had the members {members}"
                assert ("result" in reply) != ("error" in reply), (
                    f"a reply had the members {members}"
                )
                error = reply.get("error", {"code": 0, "message": ""})
                assert isinstance(error.get("code"), int) and isinstance(
                    error.get("message"), str
                ), f"an error object was {error!r:.80}"

        with case("answers an empty batch with one error object, not an array",
                  hint="[] is not a batch of nothing: it is an invalid request."):  # fmt: skip
            reply = post(b"[]").reply()
            assert isinstance(reply, dict), f"[] was answered {json.dumps(reply)[:80]}"
            assert code_of(reply) == -32600, f"[] got code {code_of(reply)}"

        with case("answers a batch with an array of replies, leaving out its notifications",
                  hint="One reply per call that has an id, in an array; notifications get nothing."):  # fmt: skip
            batch = [call("sum", [1, 2, 4], "1"), call("notify_hello", [7], with_id=False),
                     call("subtract", [42, 23], "2"), call("get_data", None, "9")]  # fmt: skip
            replies = send(post, batch).reply()
            assert isinstance(replies, list), f"a batch was answered {json.dumps(replies)[:80]}"
            got = sorted((json.dumps(r.get("id")), json.dumps(r.get("result"))) for r in replies)
            want = sorted([('"1"', "7"), ('"2"', "19"), ('"9"', '["hello", 5]')])
            assert got == want, f"the batch's replies were (id, result) {got}"

        with case("answers each bad element of a batch on its own",
                  hint="A bad element gets its own error in the array; the good ones still run."):  # fmt: skip
            replies = send(post, [1, call("subtract", [42, 23], "ok")]).reply()
            assert isinstance(replies, list) and len(replies) == 2, (
                f"[1, a good call] was answered {json.dumps(replies)[:90]}"
            )
            assert any(isinstance(r, dict) and r.get("result") == 19 for r in replies), (
                f"the good call got no result: {json.dumps(replies)[:90]}"
            )
            replies = post(b"[1,2,3]").reply()
            assert isinstance(replies, list) and len(replies) == 3, (
                f"[1,2,3] was answered {json.dumps(replies)[:90]}"
            )

        with case("stays silent for a batch of notifications only",
                  hint="If nothing in a batch needs a reply, send nothing, not an empty array."):  # fmt: skip
            batch = [
                call("notify_sum", [1, 2, 4], with_id=False),
                call("notify_hello", [7], with_id=False),
            ]
            answer = send(post, batch)
            assert answer.status == 204, (
                f"a batch of notifications was answered {answer.body[:80]!r}"
            )
