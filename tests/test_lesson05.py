"""Lesson 05: its checks pass the solution and fail blanks and wrong answers; its servers hold up."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import struct
import time
from collections import Counter

import nbformat
import pytest
from _checktests import assert_fails_its_cases, solution_and_blank_tests
from hypothesis import given, settings
from hypothesis import strategies as st
from jupyter_client.manager import start_new_kernel

from labsupport import config, serve_tcp
from labsupport.checks import load_answers
from labsupport.lessons import sockets05 as s5
from labsupport.waiting import wait_until

NOTEBOOK = "05_sockets.ipynb"


SOLVED = load_answers(config.REPO_ROOT / "solutions" / NOTEBOOK)
BLANK = load_answers(config.REPO_ROOT / "exercises" / NOTEBOOK)
CHECKS = {
    "frame_decoder": (s5.check_frame_decoder, "FrameDecoder"),
    "heartbeat_detector": (s5.check_heartbeat_detector, "watch_heartbeats"),
}


# --- wrong frame decoders ------------------------------------------------------------------


def make_decoder(*, one_read=False, first_only=False, drop_partial_header=False, trust=False,
                 at_limit_refused=False, skip_empty=False, shared=False, allocate=False,
                 wait_whole=False):  # fmt: skip
    """Build a FrameDecoder with one known mistake switched on."""

    class Decoder:
        buffer = bytearray()  # used only when `shared`: one buffer for every instance

        def __init__(self, max_frame_bytes=s5.MAX_FRAME_BYTES):
            self.limit = max_frame_bytes
            if not shared:
                self.buffer = bytearray()

        def too_big(self, length):
            return length >= self.limit if at_limit_refused else length > self.limit

        def feed(self, data):
            if one_read:  # one read is one message
                return [bytes(data[4:])]
            if drop_partial_header and len(self.buffer) == 0 and len(data) < 4:
                return []
            self.buffer += data
            out = []
            while len(self.buffer) >= 4:
                (length,) = struct.unpack("!I", self.buffer[:4])
                if allocate:
                    room = bytearray(length)  # "make room first"
                    del room
                if not trust and not wait_whole and self.too_big(length):
                    raise s5.FrameTooLarge(length)
                if len(self.buffer) < 4 + length:
                    break
                if wait_whole and self.too_big(length):
                    raise s5.FrameTooLarge(length)
                payload = bytes(self.buffer[4 : 4 + length])
                del self.buffer[: 4 + length]
                if payload or not skip_empty:
                    out.append(payload)
                if first_only:
                    break
            return out

    return Decoder


# --- wrong heartbeat detectors ---------------------------------------------------------------


async def no_timeout(reader, timeout_s):
    while await reader.readline():
        pass
    return "closed"


async def one_deadline_for_all(reader, timeout_s):
    async def loop():
        while await reader.readline():
            pass
        return "closed"

    try:
        return await asyncio.wait_for(loop(), timeout_s)
    except TimeoutError:
        return "silent"


def make_watcher(*, scale=1.0, eof_is_heartbeat=False, reset_escapes=False, eof_silent=False,
                 late=False):  # fmt: skip
    async def watch(reader, timeout_s):
        limit = timeout_s * scale
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), limit)
            except TimeoutError:
                if late:  # waits for a second missed timeout before believing it
                    late_line = await asyncio.wait_for(reader.readline(), limit * 10)
                    if late_line:
                        continue
                return "silent"
            except ConnectionError:
                if reset_escapes:
                    raise
                return "closed"
            if not line and not eof_is_heartbeat:
                if eof_silent:
                    await asyncio.sleep(timeout_s)
                    return "silent"
                return "closed"

    return watch


async def counts_from_the_first_heartbeat(reader, timeout_s):
    started = time.monotonic()
    while True:
        left = timeout_s - (time.monotonic() - started)
        if left <= 0:
            return "silent"
        try:
            line = await asyncio.wait_for(reader.readline(), left)
        except TimeoutError:
            return "silent"
        except ConnectionError:
            return "closed"
        if not line:
            return "closed"


WRONG_ANSWERS = [
    ("frame_decoder", "one read is one message", make_decoder(one_read=True), "one at a time"),
    ("frame_decoder", "first frame per feed only", make_decoder(first_only=True), "many arrive in one chunk"),
    ("frame_decoder", "drops a partial header", make_decoder(drop_partial_header=True), "headers cut in two"),
    ("frame_decoder", "trusts the length prefix", make_decoder(trust=True), "refuses an oversized length"),
    ("frame_decoder", "checks the limit once the frame is whole", make_decoder(wait_whole=True), "refuses an oversized length"),
    ("frame_decoder", "refuses the limit itself", make_decoder(at_limit_refused=True), "exactly max_frame_bytes"),
    ("frame_decoder", "skips empty frames", make_decoder(skip_empty=True), "empty frame"),
    ("frame_decoder", "one buffer for every decoder", make_decoder(shared=True), "to itself"),
    ("frame_decoder", "allocates the announced length first", make_decoder(allocate=True), "allocates nothing"),
    ("heartbeat_detector", "no timeout at all", no_timeout, "'silent' about timeout_s"),
    ("heartbeat_detector", "one deadline for the whole watch", one_deadline_for_all, "slow peer"),
    ("heartbeat_detector", "counts from the first heartbeat", counts_from_the_first_heartbeat, "slow peer"),
    ("heartbeat_detector", "half the timeout", make_watcher(scale=0.5), "slow peer"),
    ("heartbeat_detector", "EOF read as a heartbeat", make_watcher(eof_is_heartbeat=True), "hangs up"),
    ("heartbeat_detector", "a reset escapes", make_watcher(reset_escapes=True), "reset"),
    ("heartbeat_detector", "EOF reported as silence", make_watcher(eof_silent=True), "hangs up"),
    ("heartbeat_detector", "waits for a second timeout", make_watcher(late=True), "'silent' about timeout_s"),
]  # fmt: skip


# --- the checks -------------------------------------------------------------------------


test_the_solution_notebook_passes_every_case, test_the_blank_exercise_scores_zero = (
    solution_and_blank_tests(CHECKS, SOLVED, BLANK, runs=3, min_cases=4)
)


@pytest.mark.parametrize(
    ("task_id", "mistake", "answer", "case"), WRONG_ANSWERS, ids=[w[1] for w in WRONG_ANSWERS]
)
def test_a_known_wrong_answer_fails_the_case_that_targets_it(task_id, mistake, answer, case):
    check, _ = CHECKS[task_id]

    report = check.run(answer)

    assert_fails_its_cases(report, case)


def test_every_task_has_at_least_eight_wrong_answers_in_these_tests():
    per_task = Counter(task_id for task_id, *_ in WRONG_ANSWERS)

    assert all(per_task[task_id] >= 8 for task_id in CHECKS), per_task


def test_the_exercise_keeps_the_docstrings_and_hides_every_solution():
    exercise = nbformat.read(config.REPO_ROOT / "exercises" / NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in exercise.cells if c.cell_type == "code")

    for name in ("class FrameDecoder", "async def watch_heartbeats("):
        assert name in code
    assert code.count('raise NotImplementedError("Write this part') == 3
    for leaked in ("wait_for", "del self.buffer", "BEGIN SOLUTION"):
        assert leaked not in code


# --- decoders under hypothesis ---------------------------------------------------------------

payloads = st.lists(st.binary(max_size=300), max_size=20)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=150, deadline=None)
@given(payloads, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_the_solution_decoder_yields_the_same_messages_for_any_split(messages, cuts):
    stream = b"".join(s5.frame(m) for m in messages)
    decoder = SOLVED["FrameDecoder"](max_frame_bytes=300)

    got = [m for chunk in split_at(stream, cuts) for m in decoder.feed(chunk)]

    assert got == messages


@settings(max_examples=60, deadline=None)
@given(payloads, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_read_frame_reads_the_same_messages_for_any_split(messages, cuts):
    stream = b"".join(s5.frame(m) for m in messages)

    async def read_all():
        reader = asyncio.StreamReader()
        for chunk in split_at(stream, cuts):
            reader.feed_data(chunk)
        reader.feed_eof()
        return [await s5.read_frame(reader) for _ in messages]

    assert asyncio.run(read_all()) == messages


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=s5.MAX_FRAME_BYTES + 1, max_value=2**32 - 1))
def test_read_frame_refuses_any_length_above_the_limit_before_reading_it(length):
    async def read_one():
        reader = asyncio.StreamReader()
        reader.feed_data(struct.pack("!I", length))  # no payload follows
        return await s5.read_frame(reader)

    with pytest.raises(s5.FrameTooLarge):
        asyncio.run(read_one())


@given(st.integers(0, 2**32 - 1), st.text(alphabet="abcdefghij-", max_size=16),
       st.integers(1, 100), st.integers(1, 2**32 - 1))  # fmt: skip
def test_an_order_survives_packing_and_is_always_30_bytes(order_id, sku, qty, user_id):
    packed = s5.pack_order(order_id, sku, qty, user_id=user_id, price_cents=1250)

    assert len(packed) == s5.ORDER.size == 30
    assert s5.unpack_order(packed) == {"order_id": order_id, "sku": sku, "qty": qty,
                                       "user_id": user_id, "price_cents": 1250}  # fmt: skip


# --- the lesson's servers survive malformed input --------------------------------------------


def exchange(target: str, data: bytes, timeout_s: float = 3.0) -> bytes:
    """Send data, then read until the server closes; return everything it sent."""
    host, port = target.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # done sending: the server sees EOF after our bytes
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    return got


def replies(data: bytes) -> list[bytes]:
    decoder = SOLVED["FrameDecoder"]()
    return decoder.feed(data)


@pytest.mark.parametrize(
    ("garbage", "error"),
    [
        (struct.pack("!I", 2**31) + b"x" * 10, b"FrameTooLarge"),
        (s5.frame(b"too short for an order"), b"error"),
        (s5.frame(s5.pack_order(1, "mug", 1)[:-1] + b"\xff"), b"error"),
    ],
    ids=["oversized length", "wrong size", "sku not utf-8"],
)
def test_the_order_server_answers_malformed_input_with_an_error_and_keeps_serving(garbage, error):
    server = serve_tcp(s5.order_server, name="test-orders")
    good = s5.frame(s5.pack_order(41, "mug-blue", 2))

    bad_reply = replies(exchange(server.target, good + garbage))
    good_reply = replies(exchange(server.target, good + good))

    assert bad_reply[0] == b"ok 41" and bad_reply[1].startswith(b"error") and error in bad_reply[1]
    assert good_reply == [b"ok 41", b"ok 41"]


def test_the_order_server_survives_a_client_that_hangs_up_mid_frame():
    server = serve_tcp(s5.order_server, name="test-orders")

    assert exchange(server.target, s5.frame(b"x" * 30)[:10]) == b""
    assert replies(exchange(server.target, s5.frame(s5.pack_order(7, "tea", 1)))) == [b"ok 7"]


def test_the_naive_server_takes_merged_orders_for_one_bad_message():
    server = serve_tcp(s5.naive_order_server, name="test-naive")
    three = b"".join(s5.pack_order(n, "mug", 1) for n in range(3))

    answer = exchange(server.target, three)

    assert answer == b"bad 90 bytes\n"


# --- failure detection and the cluster ----------------------------------------------------


def test_the_monitor_notices_a_close_at_once_and_silence_after_the_timeout():
    monitor = s5.HeartbeatMonitor(timeout_s=0.3)
    server = serve_tcp(monitor.handle, name="test-monitor")
    peers = [s5.start_peer(server.target, b, b, duration_s=1.5) for b in ("closing", "silent")]

    wait_until(lambda: len(monitor.noticed) == 2, 5, "both peers noticed")
    closing, silent = (monitor.noticed[p.name][1] - p.went_quiet_at for p in peers)

    assert monitor.noticed["closing"][0] == "closed" and monitor.noticed["silent"][0] == "silent"
    assert silent >= 0.3 > closing
    for peer in peers:
        peer.stop.set()


def lesson_cells(*starts: str) -> list[str]:
    """Return the lesson notebook's code cells that begin as given (the setup, the cluster)."""
    nb = nbformat.read(config.REPO_ROOT / "notebooks" / NOTEBOOK, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    return [next(src for src in code if src.startswith(start)) for start in starts]


@pytest.mark.broker
def test_no_cluster_node_outlives_a_kernel_killed_with_sigkill(tmp_path):
    env = {**os.environ, "LAB_DIR": str(tmp_path)}
    manager, client = start_new_kernel(kernel_name="python3", env=env,
                                       cwd=str(config.REPO_ROOT / "notebooks"))  # fmt: skip
    try:
        for source in lesson_cells("import asyncio", "cluster = s5.RedisClusterLab("):
            reply = client.execute_interactive(source, timeout=120)
            assert reply["content"]["status"] == "ok", source[:60]
        records = [json.loads(p.read_text()) for p in (tmp_path / "pids").glob("*.json")]
        pids = [r["pid"] for r in records if r["label"].startswith("redis-cluster-")]
        assert len(pids) == 6 and all(_alive(pid) for pid in pids)
        os.kill(manager.provisioner.process.pid, signal.SIGKILL)
        wait_until(lambda: not any(_alive(pid) for pid in pids), 10, "every cluster node gone")
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


@pytest.mark.broker
def test_killing_a_master_promotes_its_replica_and_the_client_writes_again():
    with s5.RedisClusterLab(node_timeout_ms=1000) as cluster:
        run = s5.time_failover(cluster, after_s=0.5)
        assert cluster.role(run.replica_port) == "master"

    assert run.marked_fail_s is not None and run.promoted_s >= run.marked_fail_s
    assert run.promoted_s >= 1.0  # it must first miss the node timeout (1 s)
    assert run.client_errors(), "no write failed while the slot had no master"
    assert (
        run.client[-1][2] == "ok" and run.first_ok_after_kill_s() >= run.promoted_s - 0.1
    )  # polls are 20 ms apart
