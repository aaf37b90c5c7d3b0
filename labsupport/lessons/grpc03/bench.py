"""Lesson 03's bench figures for `make bench`: the stub's own cost, gRPC vs REST, protobuf bytes.

- `grpc_stub_over_h2load_p50`: p50 of GetProduct through the generated Python stub over
  p50 of the same call by h2load, same server (the client's cost, shown, not judged);
- `grpc_unary_over_rest_p50`: p50 of that stub call over p50 of the same product by
  GET with the thin HTTP client, against uvicorn (both thin Python clients, same run);
- `protobuf_over_json_bytes`: the shop's Order as protobuf over the same order as JSON.

Each ratio is the median of 3 runs, with `_min` and `_max` beside it; about 15 s in all.
Servers run in this process, unpinned, one call at a time.
"""

from __future__ import annotations

import json
import shutil
import statistics

import grpc

from labsupport import serve_app, serve_grpc
from labsupport.shop import load_shop

from .rigs import measure_rest_and_grpc
from .services import InventoryServicer, make_products_app

REPEATS = 3
ORDER = {"order_id": 1042, "sku": "mug-blue", "qty": 2, "user_id": 7, "status": "placed"}


def measure() -> dict[str, float]:
    """Return {name: value} for lesson 03's bench figures, ratios as medians of 3 runs."""
    missing = [tool for tool in ("h2load", "wrk") if not shutil.which(tool)]
    if missing:
        raise RuntimeError(
            f"{' and '.join(missing)} missing: apt-get install -y nghttp2-client wrk"
        )
    shop_pb2, shop_pb2_grpc = load_shop()
    inventory = InventoryServicer({"mug-blue": 50})
    request = shop_pb2.GetProductRequest(sku="mug-blue")
    found: dict[str, list[float]] = {
        "grpc_stub_over_h2load_p50": [],
        "grpc_unary_over_rest_p50": [],
    }
    add = shop_pb2_grpc.add_InventoryServicer_to_server
    with serve_grpc(inventory, add, name="bench-grpc03") as grpc_run:
        with serve_app(make_products_app(inventory), name="bench-grpc03-rest") as rest_run:
            with grpc.insecure_channel(grpc_run.target) as channel:
                stub = shop_pb2_grpc.InventoryStub(channel)
                for _ in range(REPEATS):
                    got = measure_rest_and_grpc(
                        rest_run.url, grpc_run.target, stub, request, duration_s=1.0
                    )
                    grpc_p50 = got["gRPC, generated stub"]["p50_ms"]
                    found["grpc_stub_over_h2load_p50"].append(
                        grpc_p50 / got["gRPC, h2load"]["p50_ms"]
                    )
                    rest_p50 = got["REST, thin HTTP client"]["p50_ms"]
                    found["grpc_unary_over_rest_p50"].append(grpc_p50 / rest_p50)
    figures: dict[str, float] = {}
    for name, values in found.items():
        figures[name] = statistics.median(values)
        figures[f"{name}_min"], figures[f"{name}_max"] = min(values), max(values)
    proto_bytes = len(shop_pb2.Order(**ORDER).SerializeToString())
    figures["protobuf_over_json_bytes"] = proto_bytes / len(json.dumps(ORDER).encode())
    return figures


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}={value:.4f}")
