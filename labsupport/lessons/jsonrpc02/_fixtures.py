"""Serve learners' code for lesson 02's checks, and a JSON-RPC server that misbehaves on request.

- `serve_handle(handle, methods)`: the learner's `handle(body, methods)` behind a real
  `POST /rpc` (None -> 204, bytes -> 200 application/json); `post(body)` returns what came
  back, and re-raises in the check's thread whatever `handle` raised in the server's.
- `serve_batch_server()`: the reference dispatcher behind `POST /rpc` with knobs: replies
  reversed, replies to the method `lost` dropped, the whole answer delayed, a batch cap.
  It records every body it was sent.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from labsupport import serve_app

from .services import JsonRpcDispatcher
from .services_methods import make_spec_methods


@dataclass
class Answer:
    """What the server sent back over HTTP for one POST."""

    status: int
    content_type: str
    body: bytes

    def reply(self) -> Any:
        """Return the parsed JSON-RPC reply; fail the case when there is none to parse."""
        if self.status == 204 or not self.body:
            raise AssertionError(f"got no reply at all (HTTP {self.status}, empty body)")
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"the reply is not JSON: {self.body[:60]!r}") from None


@contextmanager
def serve_handle(
    handle: Callable, methods: dict[str, Callable]
) -> Iterator[Callable[[bytes | str], Answer]]:
    """Serve handle(body, methods) at POST /rpc; yield post(body) -> Answer."""
    raised: list[BaseException] = []
    app = FastAPI()

    @app.post("/rpc")
    async def rpc(request: Request) -> Response:
        try:
            reply = handle(await request.body(), methods)
        except BaseException as exc:  # noqa: BLE001 - handed back to the check's thread
            raised.append(exc)
            return Response(status_code=500)
        if reply is None:
            return Response(status_code=204)
        if isinstance(reply, str):
            reply = reply.encode()
        if not isinstance(reply, bytes):
            raised.append(
                AssertionError(f"handle returned a {type(reply).__name__}: it should return bytes")
            )
            return Response(status_code=500)
        return Response(reply, media_type="application/json")

    with (
        serve_app(app, name="check-dispatcher") as run,
        httpx.Client(base_url=run.url, timeout=5.0) as client,
    ):

        def post(body: bytes | str) -> Answer:
            answer = client.post("/rpc", content=body)
            if raised:
                raise raised.pop()
            return Answer(
                answer.status_code, answer.headers.get("content-type", ""), answer.content
            )

        yield post


@dataclass
class BatchServer:
    """The reference dispatcher with knobs; `bodies` holds every parsed body it received."""

    url: str
    dispatcher: JsonRpcDispatcher
    bodies: list[Any] = field(default_factory=list)
    arrivals_s: list[float] = field(default_factory=list)
    reverse: bool = False
    delay_s: float = 0.0

    def reset(self, *, reverse: bool = False, delay_s: float = 0.0, max_batch: int = 1000) -> None:
        self.bodies.clear()
        self.arrivals_s.clear()
        self.reverse, self.delay_s, self.dispatcher.max_batch = reverse, delay_s, max_batch

    def batch_sizes(self) -> list[int]:
        """Return how many calls each POST carried (1 for a plain object)."""
        return [len(b) if isinstance(b, list) else 1 for b in self.bodies]


@contextmanager
def serve_batch_server() -> Iterator[BatchServer]:
    """Serve the reference dispatcher with knobs at POST /rpc; yield its BatchServer."""
    methods = make_spec_methods(with_work=False) | {"lost": lambda: "never seen"}
    server = BatchServer("", JsonRpcDispatcher(methods))
    app = FastAPI()

    @app.post("/rpc")
    async def rpc(request: Request) -> Response:
        body = await request.body()
        server.arrivals_s.append(time.perf_counter())
        try:
            server.bodies.append(json.loads(body))
        except ValueError:
            server.bodies.append(body)
        reply, _ = await server.dispatcher.handle(body)
        reply = _doctored(reply, server)
        if server.delay_s:
            await asyncio.sleep(server.delay_s)
        if reply is None:
            return Response(status_code=204)
        return Response(reply, media_type="application/json")

    with serve_app(app, name="check-batcher") as run:
        server.url = f"{run.url}/rpc"
        yield server


def _doctored(reply: bytes | None, server: BatchServer) -> bytes | None:
    """Drop the replies to `lost` calls and reverse the batch when asked."""
    if reply is None or not isinstance(server.bodies[-1], list):
        return reply
    lost = {
        json.dumps(r.get("id")) for r in server.bodies[-1] if isinstance(r, dict) and r.get("method") == "lost"
    }  # fmt: skip
    replies = json.loads(reply)
    if not isinstance(replies, list):
        return reply
    kept = [r for r in replies if json.dumps(r.get("id")) not in lost]
    return json.dumps(kept[::-1] if server.reverse else kept).encode()


@dataclass
class Outcome:
    """What one learner call gave: its value or the exception it raised, and when it ended."""

    value: Any = None
    error: BaseException | None = None
    elapsed_s: float = 0.0

    def describe(self) -> str:
        if self.error is not None:
            return f"raised {type(self.error).__name__}: {self.error}"[:120]
        return f"returned {self.value!r}"[:120]


async def outcome_of(call: Awaitable[Any]) -> Outcome:
    """Await the learner's call and keep what happened (NotImplementedError passes through)."""
    started = time.perf_counter()
    try:
        value = await call
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - the case judges what the learner's code raised
        return Outcome(None, exc, time.perf_counter() - started)
    return Outcome(value, None, time.perf_counter() - started)


def run_batcher(
    batcher_class: type,
    server: BatchServer,
    scenario: Callable[[Any], Awaitable[Any]],
    *,
    window_s: float = 0.02,
    timeout_s: float = 1.0,
) -> Any:
    """Make the learner's batcher on a fresh httpx.AsyncClient and run scenario(batcher)."""

    async def main() -> Any:
        async with httpx.AsyncClient(timeout=10.0) as client:
            batcher = batcher_class(client, server.url, window_s=window_s, timeout_s=timeout_s)
            result = scenario(batcher)
            return await result if inspect.isawaitable(result) else result

    return asyncio.run(main())
