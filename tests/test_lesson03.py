"""Lesson 03: the shop's gRPC contract loads lazily; the lesson's checks pass the solution and fail wrong answers."""

from __future__ import annotations

import functools
import subprocess
import sys

import pytest
from _checktests import assert_fails_its_cases, solution_and_blank_tests

from labsupport import config
from labsupport.checks import load_answers
from labsupport.lessons import grpc03


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


# --- the exercise checks: the solution passes, the blank and wrong answers fail ----------

NOTEBOOK = "03_grpc.ipynb"


@functools.cache
def answers(folder: str) -> dict:
    """The names the solution's or the exercise's task cells define (the contract loads first)."""
    return load_answers(config.REPO_ROOT / folder / NOTEBOOK, keep=["shop_pb2_grpc"])


CHECKS = {
    "orders_servicer": (grpc03.check_orders_servicer, "OrdersServicer"),
    "resume_feed": (grpc03.check_resume_feed, "collect_orders"),
}
(
    test_the_solution_notebook_passes_every_case_three_runs_in_a_row,
    test_the_blank_exercise_scores_zero,
) = solution_and_blank_tests(
    CHECKS, lambda: answers("solutions"), lambda: answers("exercises"), runs=3, min_cases=6
)


# Wrong OrdersServicer answers: each overrides one method of the solution's class.


def wrong_servicer(**methods):
    base = answers("solutions")["OrdersServicer"]
    return type("Wrong", (base,), methods)


def make_wrong_orders():
    import grpc

    from labsupport.shop import load_shop

    pb2, _ = load_shop()

    def place_with(timeout_of, catch=True, remap=None, validate=True, validate_late=False):
        def PlaceOrder(self, request, context):  # noqa: N802
            bad = not request.sku or not 1 <= request.qty <= 100
            if validate and bad and not validate_late:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
            with self.lock:
                order_id = len(self.orders) + 1
                self.orders[order_id] = None
            reserve = pb2.ReserveStockRequest(sku=request.sku, qty=request.qty, order_id=order_id)
            try:
                self.inventory.ReserveStock(reserve, **timeout_of(context))
            except grpc.RpcError as exc:
                if not catch:
                    raise
                context.abort(remap or exc.code(), exc.details())
            if validate_late and bad:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
            order = pb2.Order(
                order_id=order_id, sku=request.sku, qty=request.qty, user_id=request.user_id
            )
            self.orders[order_id] = order
            return order

        return PlaceOrder

    def propagate(context):
        return {"timeout": context.time_remaining()}

    def wrong_code_for_bad_request(self, request, context):  # noqa: N802
        if not request.sku or not 1 <= request.qty <= 100:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "bad request")
        return place_with(propagate)(self, request, context)

    def empty_order_when_missing(self, request, context):  # noqa: N802
        if request.order_id < 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "ids start at 1")
        return self.orders.get(request.order_id) or pb2.Order()

    def key_error_when_missing(self, request, context):  # noqa: N802
        if request.order_id < 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "ids start at 1")
        return self.orders[request.order_id]

    def not_found_for_every_bad_id(self, request, context):  # noqa: N802
        order = self.orders.get(request.order_id)
        if order is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such order")
        return order

    def forgets_the_user(self, request, context):  # noqa: N802
        order = place_with(propagate)(self, request, context)
        order.user_id = 0
        return order

    return [
        ("returns an empty Order", {"GetOrder": empty_order_when_missing}, "never placed"),
        ("lets a KeyError out", {"GetOrder": key_error_when_missing}, "never placed"),
        ("NOT_FOUND for id 0", {"GetOrder": not_found_for_every_bad_id}, "below 1"),
        ("validates nothing", {"PlaceOrder": place_with(propagate, validate=False)}, "refused"),
        (
            "validates after reserving",
            {"PlaceOrder": place_with(propagate, validate_late=True)},
            "refused before",
        ),
        ("FAILED_PRECONDITION for bad qty", {"PlaceOrder": wrong_code_for_bad_request}, "refused"),
        ("lets RpcError out (UNKNOWN)", {"PlaceOrder": place_with(propagate, catch=False)}, "own code"),
        (
            "INTERNAL for every downstream error",
            {"PlaceOrder": place_with(propagate, remap=grpc.StatusCode.INTERNAL)},
            "own code",
        ),
        (
            "UNAVAILABLE for every downstream error",
            {"PlaceOrder": place_with(propagate, remap=grpc.StatusCode.UNAVAILABLE)},
            "own code",
        ),
        ("no deadline downstream", {"PlaceOrder": place_with(lambda c: {})}, "deadline"),
        ("a fixed 5 s downstream", {"PlaceOrder": place_with(lambda c: {"timeout": 5})}, "deadline"),
        ("drops the user id", {"PlaceOrder": forgets_the_user}, "reads it back"),
    ]  # fmt: skip


WRONG_ORDERS = [pytest.param(m, c, id=n) for n, m, c in make_wrong_orders()]


@pytest.mark.parametrize(("methods", "case"), WRONG_ORDERS)
def test_a_wrong_orders_servicer_fails_the_case_that_targets_it(methods, case):
    from labsupport.lessons.grpc03 import check_orders_servicer

    report = check_orders_servicer.run(wrong_servicer(**methods))

    assert report.status == "failed", str(report)
    assert_fails_its_cases(report, case)


# Wrong collect_orders answers.

KEPT_CALLS: list = []


def make_collector(
    resume=lambda first, last, n: last,
    retry_codes=("UNAVAILABLE",),
    attempts=lambda m: m,
    on_give_up="raise",
    extra=0,
    keep_calls=False,
):
    import grpc

    from labsupport.shop import load_shop

    pb2, _ = load_shop()

    def collect_orders(stub, after_order_id, count, *, max_attempts=5):
        orders, last, error = [], after_order_id, None
        for _attempt in range(attempts(max_attempts)):
            after = resume(after_order_id, last, len(orders))
            call = stub.WatchOrders(pb2.WatchOrdersRequest(after_order_id=after), timeout=5)
            if keep_calls:
                KEPT_CALLS.append(call)
            try:
                for order in call:
                    orders.append(order)
                    last = order.order_id
                    if len(orders) == count + extra:
                        if not keep_calls:
                            call.cancel()
                        return orders
                return orders
            except grpc.RpcError as exc:
                error = exc
                if on_give_up == "return partial":
                    return orders
                if exc.code().name not in retry_codes:
                    raise
        if on_give_up == "raise" and error is not None:
            raise error
        return orders

    return collect_orders


def deduplicating(stub, after_order_id, count, *, max_attempts=5):
    """Restart from the beginning each time and skip the orders already seen."""
    import grpc

    from labsupport.shop import load_shop

    pb2, _ = load_shop()
    seen: dict[int, object] = {}
    for attempt in range(1, max_attempts + 1):
        call = stub.WatchOrders(pb2.WatchOrdersRequest(after_order_id=after_order_id), timeout=5)
        try:
            for order in call:
                seen.setdefault(order.order_id, order)
                if len(seen) == count:
                    call.cancel()
                    return list(seen.values())
        except grpc.RpcError as exc:
            if exc.code().name != "UNAVAILABLE" or attempt == max_attempts:
                raise
    return list(seen.values())


ALL_CODES = ("UNAVAILABLE", "INVALID_ARGUMENT", "INTERNAL", "UNKNOWN")
WRONG_COLLECTORS = [
    ("returns what it has at the drop", make_collector(on_give_up="return partial"), "drops once"),
    ("raises at the first drop", make_collector(retry_codes=()), "drops once"),
    ("restarts from the start", make_collector(resume=lambda first, last, n: first), "drops once"),
    ("resumes after the count", make_collector(resume=lambda first, last, n: first + n), "drops once"),
    ("resumes after last + 1", make_collector(resume=lambda first, last, n: last + 1), "last order it saw"),
    ("restarts and de-duplicates", deduplicating, "last order it saw"),
    ("retries every code", make_collector(retry_codes=ALL_CODES), "INVALID_ARGUMENT"),
    ("its own limit of 12 calls", make_collector(attempts=lambda m: 12), "stays down"),
    ("one attempt too many", make_collector(attempts=lambda m: m + 1), "stays down"),
    ("returns [] when out of attempts", make_collector(on_give_up="return"), "stays down"),
    ("one order too many", make_collector(extra=1), "nothing breaks"),
    ("keeps its streams open", make_collector(keep_calls=True), "ends the stream"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "case"), [pytest.param(a, c, id=n) for n, a, c in WRONG_COLLECTORS]
)
def test_a_wrong_stream_reader_fails_the_case_that_targets_it(answer, case):
    from labsupport.lessons.grpc03 import check_resume_feed

    report = check_resume_feed.run(answer)

    for call in KEPT_CALLS:
        call.cancel()
    KEPT_CALLS.clear()
    assert report.status == "failed", str(report)
    assert_fails_its_cases(report, case)


def test_the_exercise_keeps_the_docstrings_and_hides_every_solution():
    import nbformat

    exercise = nbformat.read(config.REPO_ROOT / "exercises" / NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in exercise.cells if c.cell_type == "code")

    for name in (
        "class OrdersServicer(",
        "def PlaceOrder(",
        "def GetOrder(",
        "def collect_orders(",
    ):
        assert name in code
    assert code.count('raise NotImplementedError("Write this part') == 4
    for leaked in ("time_remaining()", "context.abort", "call.cancel()", "BEGIN SOLUTION"):
        assert leaked not in code


# --- the lesson's own modules -------------------------------------------------------------


def test_importing_the_lesson_package_creates_no_grpc_objects(tmp_path):
    code = (
        "import threading, sys\n"
        "import labsupport.lessons.grpc03\n"
        "print('shop_pb2' in sys.modules, threading.active_count())"
    )
    assert run_python(code, tmp_path) == "False 1"


def test_the_lesson_writes_exactly_the_shop_contract():
    import nbformat

    from labsupport.shop import SHOP_PROTO

    lesson = nbformat.read(config.REPO_ROOT / "notebooks" / NOTEBOOK, as_version=4)
    written = [
        c.source.split("\n", 1)[1]
        for c in lesson.cells
        if c.cell_type == "code" and c.source.startswith("%%writefile {proto_dir}/shop.proto")
    ]
    assert written == [SHOP_PROTO.read_text().rstrip("\n")]


def test_rerunning_a_server_cell_replaces_the_server():
    import grpc

    from labsupport import running_services, serve_grpc
    from labsupport.lessons.grpc03 import InventoryServicer
    from labsupport.shop import load_shop

    pb2, pb2_grpc = load_shop()
    request = pb2.GetProductRequest(sku="mug-blue")
    first = serve_grpc(InventoryServicer(), pb2_grpc.add_InventoryServicer_to_server, name="rerun")
    second = serve_grpc(InventoryServicer(), pb2_grpc.add_InventoryServicer_to_server, name="rerun")
    try:
        with (
            grpc.insecure_channel(first.target) as old,
            grpc.insecure_channel(second.target) as new,
        ):
            assert pb2_grpc.InventoryStub(new).GetProduct(request, timeout=5).stock == 5
            with pytest.raises(grpc.RpcError) as gone:
                pb2_grpc.InventoryStub(old).GetProduct(request, timeout=2)
        assert gone.value.code() == grpc.StatusCode.UNAVAILABLE
        assert [r for r in running_services() if r.name == "rerun"] == [second]
    finally:
        second.stop()


def test_a_slow_reader_holds_a_fast_stream_to_the_flow_control_window():
    import grpc

    from labsupport import serve_grpc
    from labsupport.lessons.grpc03 import FirehoseServicer, read_slowly
    from labsupport.shop import load_shop

    pb2, pb2_grpc = load_shop()
    firehose = FirehoseServicer(name_bytes=1000)
    add = pb2_grpc.add_InventoryServicer_to_server
    with serve_grpc(firehose, add, name="firehose-test") as run:
        options = [("grpc.http2.bdp_probe", 0)]
        with grpc.insecure_channel(run.target, options=options) as channel:
            call = pb2_grpc.InventoryStub(channel).ListProducts(
                pb2.ListProductsRequest(), timeout=10
            )
            flow = read_slowly(call, lambda: firehose.sent, every_s=0.002, duration_s=0.4)
            assert firehose.stopped.wait(5) and firehose.ended == "cancelled"
    waiting = [s - r for s, r in zip(flow["sent"], flow["read"], strict=True)]
    assert len(waiting) >= 20 and 0 < max(waiting) < 300


def test_grpc_frames_carry_a_flag_and_a_length():
    from labsupport.lessons.grpc03 import grpc_frame
    from labsupport.shop import load_shop

    pb2, _ = load_shop()
    message = pb2.GetProductRequest(sku="mug-blue")
    frame = grpc_frame(message)
    assert frame[:5] == b"\x00\x00\x00\x00\x0a" and frame[5:] == message.SerializeToString()


def test_codec_timing_reports_each_format_with_its_size():
    import json

    from labsupport.lessons.grpc03 import time_codecs

    rows = time_codecs({"json": (lambda: json.dumps({"a": 1}).encode(), json.loads)}, rounds=50)
    assert rows[0]["format"] == "json" and rows[0]["bytes"] == len(b'{"a": 1}')
    assert rows[0]["encode µs"] > 0 and rows[0]["decode µs"] > 0


def test_the_feed_resumes_on_the_next_id_after_any_id():
    from labsupport.lessons.grpc03 import OrderFeedServicer

    assert [OrderFeedServicer.next_id(i) for i in (0, 4, 5, 6, 7, 8, 11)] == [5, 5, 8, 8, 8, 11, 14]


def test_the_flow_chart_is_saved_as_a_png(tmp_path, monkeypatch):
    from labsupport.lessons.grpc03 import plot_flow_control

    monkeypatch.setenv("LAB_PLOTS_DIR", str(tmp_path))
    samples = {"t_s": [0.0, 0.1, 0.2], "sent": [10, 60, 70], "read": [1, 2, 3]}
    plot_flow_control({"a run": samples}, title="flow test")
    assert (tmp_path / "flow-test.png").stat().st_size > 1000
