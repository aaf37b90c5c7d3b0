"""Lesson 02, JSON-RPC 2.0 over HTTP: what its notebooks import beyond the toolkit.

    from labsupport.lessons.jsonrpc02 import make_jsonrpc_app, check_dispatcher, check_batcher

- `services`: `JsonRpcDispatcher` (bytes in, reply bytes and later work out) and
  `make_jsonrpc_app()`, the reference server (POST /rpc); `services_methods`: the spec's
  section 7 methods and the lesson's own, and `RpcError`;
- `rigs`: timing with a thin client (batch sizes, notifications, batch modes);
  `rigs_spec`: section 7 of the specification, replayed against any server;
- `charts`: per-call cost as the batch grows;
- `_fixtures`, `checks_dispatcher`, `checks_batcher`: the two graded tasks;
- `bench`: the figures `make bench` prints.
"""

from __future__ import annotations

from .charts import draw_batch_costs
from .checks_batcher import check_batcher
from .checks_dispatcher import check_dispatcher
from .rigs import (
    BATCH_SIZES,
    batch_body,
    ratio_batch_to_single,
    rpc_request,
    time_batch_of_work,
    time_batch_sizes,
    time_notification,
)
from .rigs_spec import SPEC_EXAMPLES, replay_spec_examples
from .services import JsonRpcDispatcher, error_reply, make_jsonrpc_app, why_invalid
from .services_methods import RpcError, make_spec_methods

__all__ = [
    "BATCH_SIZES",
    "JsonRpcDispatcher",
    "RpcError",
    "SPEC_EXAMPLES",
    "batch_body",
    "check_batcher",
    "check_dispatcher",
    "draw_batch_costs",
    "error_reply",
    "make_jsonrpc_app",
    "make_spec_methods",
    "ratio_batch_to_single",
    "replay_spec_examples",
    "rpc_request",
    "time_batch_of_work",
    "time_batch_sizes",
    "time_notification",
    "why_invalid",
]
