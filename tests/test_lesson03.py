"""Lesson 03: the shop's gRPC contract loads lazily; the lesson's checks pass the solution and fail wrong answers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labsupport import config


def run_python(code: str, lab_dir) -> str:
    env = {"LAB_DIR": str(lab_dir), "PATH": "/usr/bin:/bin", "no_proxy": "127.0.0.1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=config.REPO_ROOT
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


# --- the shop's contract (labsupport.shop.contract) -------------------------------------


def test_importing_the_shop_loads_no_grpc(tmp_path):
    code = "import labsupport.shop, sys; print('grpc' in sys.modules, 'shop_pb2' in sys.modules)"
    assert run_python(code, tmp_path) == "False False"


def test_load_shop_compiles_the_contract_and_a_real_stub_calls_a_servicer(tmp_path):
    code = """
import os
import grpc
from labsupport import serve_grpc
from labsupport.shop import load_shop
shop_pb2, shop_pb2_grpc = load_shop()

class Inventory(shop_pb2_grpc.InventoryServicer):
    def GetProduct(self, request, context):
        if request.sku != "mug-blue":
            context.abort(grpc.StatusCode.NOT_FOUND, f"no product {request.sku!r}")
        return shop_pb2.Product(sku=request.sku, name="blue mug", price_cents=1250, stock=3)

running = serve_grpc(Inventory(), shop_pb2_grpc.add_InventoryServicer_to_server, name="inv")
with grpc.insecure_channel(running.target) as channel:
    stub = shop_pb2_grpc.InventoryStub(channel)
    product = stub.GetProduct(shop_pb2.GetProductRequest(sku="mug-blue"), timeout=5)
    try:
        stub.GetProduct(shop_pb2.GetProductRequest(sku="nope"), timeout=5)
    except grpc.RpcError as exc:
        code = exc.code().name
running.stop()
print(product.price_cents, code, shop_pb2.__file__.startswith(os.environ["LAB_DIR"]))
"""
    assert run_python(code, tmp_path) == "1250 NOT_FOUND True"


def test_compiling_the_same_contract_twice_reuses_one_folder(tmp_path):
    from labsupport.shop import SHOP_PROTO, compile_proto

    first = compile_proto(SHOP_PROTO, tmp_path / "gen")
    stamp = (first / "shop_pb2.py").stat().st_mtime_ns
    again = compile_proto(SHOP_PROTO, tmp_path / "gen")
    assert again == first and (first / "shop_pb2.py").stat().st_mtime_ns == stamp
    assert str(first) in sys.path
    sys.path.remove(str(first))


def test_a_broken_contract_says_protoc_failed(tmp_path):
    from labsupport.shop import compile_proto

    bad = tmp_path / "bad.proto"
    bad.write_text('syntax = "proto3";\nmessage X { strin sku = 1; }\n')
    with pytest.raises(RuntimeError, match="protoc could not compile"):
        compile_proto(bad, tmp_path / "gen")
