"""Load the shop's gRPC contract, `shop.proto`: generated lazily, never when labsupport is imported.

Lesson 03 writes this contract in a cell and compiles it with `grpc_tools.protoc`;
later lessons load the same modules in one line:

    from labsupport.shop import load_shop
    shop_pb2, shop_pb2_grpc = load_shop()
    stub = shop_pb2_grpc.InventoryStub(grpc.insecure_channel(running.target))

The generated `shop_pb2_grpc.py` imports `shop_pb2` by its bare name (grpc issue
29390), so the generated folder goes on `sys.path` instead of inside a package.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from .. import config

__all__ = ["SHOP_PROTO", "SHOP_SERVICES", "compile_proto", "load_shop"]

SHOP_PROTO = Path(__file__).with_name("shop.proto")
SHOP_SERVICES = ("shop.v1.Inventory", "shop.v1.Orders")


def compile_proto(proto_path: Path | str = SHOP_PROTO, out_dir: Path | str | None = None) -> Path:
    """Generate `<name>_pb2.py` and `<name>_pb2_grpc.py` from a .proto and put their folder on sys.path.

    Without out_dir the modules land in `$LAB_DIR/generated/<name>-<hash of the text>/`,
    so two kernels compiling the same contract share one folder and an edited contract
    gets a new one. Files are written elsewhere first and moved in whole.
    """
    from grpc_tools import protoc  # imported here: no gRPC code runs at labsupport import

    proto_path = Path(proto_path).resolve()
    stem = proto_path.stem
    if out_dir is None:
        digest = hashlib.sha256(proto_path.read_bytes()).hexdigest()[:12]
        out_dir = config.lab_dir() / "generated" / f"{stem}-{digest}"
    out = Path(out_dir).resolve()
    wanted = [out / f"{stem}_pb2.py", out / f"{stem}_pb2_grpc.py"]
    if not all(p.exists() for p in wanted):
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out) as scratch:
            include = Path(protoc.__file__).parent / "_proto"
            args = [
                "grpc_tools.protoc",
                f"-I{proto_path.parent}",
                f"-I{include}",
                f"--python_out={scratch}",
                f"--grpc_python_out={scratch}",
                proto_path.name,
            ]
            if protoc.main(args) != 0:
                raise RuntimeError(f"protoc could not compile {proto_path}: read its errors above")
            for path in wanted:
                os.replace(Path(scratch) / path.name, path)
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    return out


def load_shop() -> tuple[ModuleType, ModuleType]:
    """Return the shop's generated modules `(shop_pb2, shop_pb2_grpc)`, compiling them once.

    A kernel that already imported `shop_pb2` (lesson 03 compiles it in a cell) gets
    those same modules back: protobuf allows one definition of `shop.v1.Order` per process.
    """
    if "shop_pb2" not in sys.modules:
        compile_proto(SHOP_PROTO)
    return importlib.import_module("shop_pb2"), importlib.import_module("shop_pb2_grpc")
