"""Lesson 02's reference JSON-RPC 2.0 server: a dispatcher, and the FastAPI app serving it.

    app = make_jsonrpc_app()        # POST /rpc, the spec's section 7 methods and a few more
    run = serve_app(app, name="rpc")

Over HTTP: a reply is `200 application/json`; a notification, or a batch of nothing but
notifications, is `204` with no body; a body that is not JSON gets a -32700 reply inside
a 200. A notification's work runs after its reply has been sent.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from fastapi import BackgroundTasks, FastAPI, Request, Response

from .services_methods import RpcError, make_spec_methods

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND = -32700, -32600, -32601
INVALID_PARAMS, INTERNAL_ERROR, BATCH_TOO_LARGE = -32602, -32603, -32000
Work = Callable[[], Awaitable[None]]


def error_reply(request_id: Any, code: int, message: str, data: Any = None) -> dict:
    """Build a JSON-RPC 2.0 error reply object."""
    error = {"code": code, "message": message} | ({} if data is None else {"data": data})
    return {"jsonrpc": "2.0", "error": error, "id": request_id}


def is_valid_id(value: Any) -> bool:
    """Tell whether value may be a request id: a string, a number (not a bool) or null."""
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def why_invalid(request: Any) -> str:
    """Return what makes request an invalid Request object, or "" when it is valid."""
    if not isinstance(request, dict):
        return f"a request must be an object, got {type(request).__name__}"
    if request.get("jsonrpc") != "2.0":
        return 'the member "jsonrpc" must be exactly "2.0"'
    if not isinstance(request.get("method"), str):
        return 'the member "method" must be a string'
    if "params" in request and not isinstance(request["params"], list | dict):
        return '"params" must be an array or an object'
    if "id" in request and not is_valid_id(request["id"]):
        return '"id" must be a string, a number or null'
    return ""


class JsonRpcDispatcher:
    """Turn the bytes of a JSON-RPC 2.0 request or batch into reply bytes, plus work for later.

    `handle(body)` returns `(reply or None, later)`: `later` holds the notifications' work,
    which the caller runs after sending the reply. With concurrent=False a batch's calls
    run one after another; `failures` keeps what went wrong in notifications (nobody else
    will ever hear of it).
    """

    def __init__(
        self, methods: Mapping[str, Callable], *, concurrent: bool = True, max_batch: int = 1000
    ) -> None:
        self.methods, self.concurrent, self.max_batch = methods, concurrent, max_batch
        self.signatures: dict[str, inspect.Signature] = {}  # inspect.signature is slow: once each
        self.failures: list[str] = []

    async def handle(self, body: bytes) -> tuple[bytes | None, list[Work]]:
        try:
            message = json.loads(body, parse_constant=_not_json)
        except (ValueError, RecursionError):  # also bytes that are not UTF-8 text
            return _encode(error_reply(None, PARSE_ERROR, "Parse error")), []
        later: list[Work] = []
        if not isinstance(message, list):
            return _encode(await self.call(message, later)), later
        if not message:
            reply = error_reply(None, INVALID_REQUEST, "Invalid Request", "empty batch")
            return _encode(reply), []
        if len(message) > self.max_batch:
            data = f"{len(message)} calls, at most {self.max_batch}"
            return _encode(error_reply(None, BATCH_TOO_LARGE, "Batch too large", data)), []
        if self.concurrent and any(self.waits(m) for m in message):
            replies = await asyncio.gather(*(self.call(m, later) for m in message))
        else:
            replies = [await self.call(m, later) for m in message]
        return _encode([r for r in replies if r is not None] or None), later

    def waits(self, request: Any) -> bool:
        """Tell whether request calls an `async def` method (gather pays a task per call)."""
        name = request.get("method") if isinstance(request, dict) else None
        return isinstance(name, str) and inspect.iscoroutinefunction(self.methods.get(name))

    async def call(self, request: Any, later: list[Work]) -> dict | None:
        """Run one request; return its reply object, or None for a notification."""
        if problem := why_invalid(request):
            request_id = request.get("id") if isinstance(request, dict) else None
            return error_reply(request_id if is_valid_id(request_id) else None,
                               INVALID_REQUEST, "Invalid Request", problem)  # fmt: skip
        if "id" not in request:
            later.append(partial(self.notify, request))
            return None
        return await self.answer(request)

    async def answer(self, request: dict) -> dict:
        """Run a valid request and build its reply: a result, or the error it met."""
        request_id, name = request["id"], request["method"]
        fn = self.methods.get(name)
        if fn is None:
            return error_reply(request_id, METHOD_NOT_FOUND, "Method not found", name)
        try:
            if name not in self.signatures:
                self.signatures[name] = inspect.signature(fn)
            bound = _bind(self.signatures[name], request.get("params", []))
        except TypeError as exc:
            return error_reply(request_id, INVALID_PARAMS, "Invalid params", str(exc))
        try:
            result = fn(*bound.args, **bound.kwargs)
            if inspect.isawaitable(result):
                result = await result
        except RpcError as exc:
            return error_reply(request_id, exc.code, exc.message, exc.data)
        except Exception as exc:  # noqa: BLE001 - any failure of a method is an internal error
            return error_reply(request_id, INTERNAL_ERROR, "Internal error", type(exc).__name__)
        return {"jsonrpc": "2.0", "result": result, "id": request_id}

    async def notify(self, request: dict) -> None:
        """Run a notification; a failure goes to `failures`, since no reply can carry it."""
        reply = await self.answer({**request, "id": None})
        if "error" in reply:
            self.failures.append(f"{request['method']}: {reply['error']}")


def make_jsonrpc_app(*, concurrent: bool = True, max_batch: int = 1000) -> FastAPI:
    """Return the reference JSON-RPC 2.0 server: one `POST /rpc` route, the spec's methods.

    `app.state.dispatcher` is its JsonRpcDispatcher, `app.state.noted` the notifications
    that ran, `app.state.calls` how often each method ran (see `make_spec_methods`).
    """
    app = FastAPI(title="json-rpc", description="JSON-RPC 2.0 over HTTP POST /rpc")
    noted: list[tuple[str, list]] = []
    calls: dict[str, int] = {}
    dispatcher = JsonRpcDispatcher(
        make_spec_methods(noted, calls), concurrent=concurrent, max_batch=max_batch
    )
    app.state.dispatcher, app.state.noted, app.state.calls = dispatcher, noted, calls

    @app.post("/rpc")
    async def rpc(request: Request, background: BackgroundTasks) -> Response:
        reply, later = await dispatcher.handle(await request.body())
        for work in later:
            background.add_task(work)  # runs once the reply has been sent
        if reply is None:
            return Response(status_code=204)
        return Response(reply, media_type="application/json")

    return app


def _bind(signature: inspect.Signature, params: list | dict) -> inspect.BoundArguments:
    return signature.bind(*params) if isinstance(params, list) else signature.bind(**params)


def _encode(reply: dict | list | None) -> bytes | None:
    """Encode a reply or batch as strict JSON; a result JSON cannot carry becomes -32603."""
    if reply is None:
        return None
    try:
        return json.dumps(reply, allow_nan=False).encode()
    except (TypeError, ValueError):  # NaN, infinity, an int too long to print: our bug
        fitted = [_fit(r) for r in reply] if isinstance(reply, list) else _fit(reply)
        return json.dumps(fitted, allow_nan=False).encode()


def _fit(reply: dict) -> dict:
    try:
        json.dumps(reply, allow_nan=False)
    except (TypeError, ValueError):
        return error_reply(reply["id"], INTERNAL_ERROR, "Internal error", "result is not JSON")
    return reply


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
