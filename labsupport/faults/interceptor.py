"""Make a gRPC server fail calls with UNAVAILABLE (or another status), or answer slowly.

First used in lesson 03 (deadlines, retries). Works with the synchronous server:

    faults = GrpcFaultInterceptor(unavailable_rate=0.2, seed=1)
    server = grpc.server(ThreadPoolExecutor(4), interceptors=[faults])
    faults.set(unavailable_rate=0.5, delay_ms=100)   # live
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from ._dice import Dice


@dataclass(frozen=True)
class GrpcFaultKnobs:
    """Hold the gRPC fault settings; the defaults inject nothing.

    `unavailable_rate` is the share of calls ended with `status` and `details` before
    the handler runs (UNAVAILABLE by default: the code clients retry on). `delay_rate`
    is the share of calls that first wait `delay_ms` ± `jitter_ms`.
    """

    unavailable_rate: float = 0.0
    status: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    details: str = "injected fault"
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    delay_rate: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.status, str):
            names = [code.name for code in grpc.StatusCode]
            if self.status.upper() not in names:
                raise ValueError(f"status {self.status!r} is not a gRPC status; one of {names}")
            object.__setattr__(self, "status", grpc.StatusCode[self.status.upper()])
        if not isinstance(self.status, grpc.StatusCode) or self.status is grpc.StatusCode.OK:
            raise ValueError(f"status must be a grpc.StatusCode other than OK, got {self.status!r}")


class GrpcFaultInterceptor(Dice, grpc.ServerInterceptor):
    """Server interceptor that delays or fails unary and streaming calls at a set rate.

    Each call rolls once, before its handler runs. When the client's deadline ends
    before the delay does, the call ends then with DEADLINE_EXCEEDED and the handler
    never runs (the client has given up; a worker thread need not keep sleeping).
    Counters: `stats.requests`, `stats.errors_injected`, `stats.delays_injected`.
    """

    knobs_type = GrpcFaultKnobs
    rate_knob = "unavailable_rate"

    def __init__(
        self, unavailable_rate: float = 0.0, delay_ms: float = 0.0, seed: int | None = 0, **knobs
    ):
        super().__init__(seed, unavailable_rate=unavailable_rate, delay_ms=delay_ms, **knobs)

    def intercept_service(self, continuation: Callable, handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        codecs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(self._wrap(handler.unary_unary), **codecs)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(self._wrap(handler.stream_unary), **codecs)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream), **codecs
            )
        return grpc.stream_stream_rpc_method_handler(
            self._wrap_stream(handler.stream_stream), **codecs
        )

    def __repr__(self) -> str:
        k, s = self.knobs, self.stats
        return (
            f"<GrpcFaultInterceptor {k.unavailable_rate:.0%} -> {k.status.name}, "
            f"delay {k.delay_ms:g}±{k.jitter_ms:g} ms on {k.delay_rate:.0%}; "
            f"{s.errors_injected} errors in {s.requests} calls>"
        )

    def _inject(self, context: grpc.ServicerContext) -> None:
        delay_s, fail = self.decide()
        if delay_s:
            remaining_s = context.time_remaining()
            if remaining_s is not None and remaining_s < delay_s:
                time.sleep(remaining_s)
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed in the delay")
            time.sleep(delay_s)
        if fail:
            knobs = self.knobs
            context.abort(knobs.status, knobs.details)

    def _wrap(self, behavior: Callable) -> Callable:
        def faulty(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
            self._inject(context)
            return behavior(request_or_iterator, context)

        return faulty

    def _wrap_stream(self, behavior: Callable) -> Callable:
        def faulty(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
            self._inject(context)
            yield from behavior(request_or_iterator, context)

        return faulty
