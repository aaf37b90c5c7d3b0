"""Check lesson 02's second task: a client-side batcher, Batcher(client, url, window_s, timeout_s).

The learner's batcher talks to the reference dispatcher behind a real `POST /rpc`, which
can reverse a batch's replies, drop the reply to one call, answer late, or refuse a batch
that is too large with one error object. The check counts the POSTs the server saw.
"""

from __future__ import annotations

import asyncio

from labsupport.checks import task

from ._fixtures import outcome_of, run_batcher, serve_batch_server
from .services_methods import RpcError

WINDOW_S = 0.02


async def together(batcher, calls) -> list:
    """Start every (method, params) call at once and keep what each one gave."""
    return await asyncio.gather(*(outcome_of(batcher.call(m, p)) for m, p in calls))


def values(outcomes) -> list:
    return [o.value if o.error is None else o.describe() for o in outcomes]


@task("batcher", lesson="02", title="A client that batches calls made together", timeout_s=8)
def check_batcher(case, Batcher):  # noqa: N803 - the learner passes a class
    """Judge Batcher(client, url, *, window_s, timeout_s) and its `await batcher.call(method, params)`."""
    with serve_batch_server() as server:

        def run(scenario, **knobs):
            return run_batcher(Batcher, server, scenario, **({"window_s": WINDOW_S} | knobs))

        with case("gives a single call its result",
                  hint="call() returns the result member of the reply to its request."):  # fmt: skip
            server.reset()
            [got] = run(lambda b: together(b, [("subtract", [42, 23])]))
            assert got.error is None and got.value == 19, f"subtract(42, 23) {got.describe()}"

        with case("sends calls made together as one batch",
                  hint="Calls made within window_s of the first pending one travel in one POST."):  # fmt: skip
            server.reset()
            run(lambda b: together(b, [("subtract", [i, 1]) for i in range(10)]))
            sizes = server.batch_sizes()
            assert sizes == [10], (
                f"10 calls made at once reached the server as POSTs of {sizes} calls"
            )

        with case("gives every call in a batch an id of its own",
                  hint="Replies are found by id, so no two pending calls may share one."):  # fmt: skip
            server.reset()
            run(lambda b: together(b, [("subtract", [i, 1]) for i in range(5)]))
            sent = [
                r for body in server.bodies for r in (body if isinstance(body, list) else [body])
            ]
            ids = [r.get("id", "<none>") if isinstance(r, dict) else "<none>" for r in sent]
            assert (
                len(set(map(repr, ids))) == len(ids) and None not in ids and "<none>" not in ids
            ), f"the calls of a batch carried the ids {ids}"

        with case("gives each caller its own result when the replies come back in another order",
                  hint="The server may answer a batch in any order: match replies by id, not position."):  # fmt: skip
            server.reset(reverse=True)
            got = run(lambda b: together(b, [("subtract", [i, 0]) for i in range(6)]))
            assert values(got) == list(range(6)), f"callers asking for 0..5 got {values(got)}"

        with case("raises RpcError with the server's code for an error reply",
                  hint="An error reply is not a result: raise RpcError(code, message, data) for it."):  # fmt: skip
            server.reset()
            [got] = run(lambda b: together(b, [("foobar", None)]))
            assert isinstance(got.error, RpcError), f"calling a missing method {got.describe()}"
            assert got.error.code == -32601, f"the error's code was {got.error.code}"

        with case("fails only the caller whose call failed",
                  hint="One error reply in a batch belongs to one caller; the others got results."):  # fmt: skip
            server.reset()
            calls = [("subtract", [5, 1]), ("foobar", None), ("subtract", [9, 1])]
            got = run(lambda b: together(b, calls))
            assert got[0].value == 4 and got[2].value == 8, (
                f"beside a failing call, the good ones gave {values(got)[0]} and {values(got)[2]}"
            )

        with case("answers a lone call soon after its window, not at its timeout",
                  hint="A call should wait about window_s for company, then go."):  # fmt: skip
            server.reset()
            [got] = run(lambda b: together(b, [("get_data", None)]), timeout_s=2.0)
            assert got.elapsed_s < 0.5, (
                f"a lone call took {got.elapsed_s:.2f} s with window_s={WINDOW_S}"
            )

        with case("sends a steady stream of calls in several batches",
                  hint="The window starts with the first pending call; a new call must not restart it."):  # fmt: skip
            server.reset()

            async def stream(b):
                tasks = []
                for i in range(24):  # one call every third of a window, for eight windows
                    tasks.append(asyncio.ensure_future(outcome_of(b.call("subtract", [i, 0]))))
                    await asyncio.sleep(WINDOW_S / 3)
                return await asyncio.gather(*tasks)

            got = run(stream, timeout_s=3.0)
            posts = len(server.bodies)
            assert posts >= 3, (
                f"24 calls spread over {8 * WINDOW_S:.2f} s went out in {posts} POST(s)"
            )
            assert values(got) == list(range(24)), f"the stream's callers got {values(got)}"

        with case("fails every caller with the server's error when it refuses the whole batch",
                  hint="A server may answer a batch with one error object instead of an array."):  # fmt: skip
            server.reset(max_batch=3)
            got = run(
                lambda b: together(b, [("subtract", [i, 0]) for i in range(5)]), timeout_s=2.0
            )
            codes = [o.error.code if isinstance(o.error, RpcError) else o.describe() for o in got]
            assert codes == [-32000] * 5, f"callers of a refused batch got {codes}"

        with case("raises TimeoutError for a call whose reply never comes",
                  hint="A reply can go missing: after timeout_s the caller must get TimeoutError.",
                  timeout_s=4):  # fmt: skip
            server.reset()
            got = run(lambda b: together(b, [("lost", None), ("subtract", [3, 1])]), timeout_s=0.4)
            assert isinstance(got[0].error, TimeoutError), (
                f"the call whose reply was lost {got[0].describe()}"
            )
            assert 0.3 <= got[0].elapsed_s < 1.5, (
                f"it gave up after {got[0].elapsed_s:.2f} s with timeout_s=0.4"
            )
            assert got[1].value == 2, f"the call beside it {got[1].describe()}"

        with case("raises TimeoutError when the server answers too late",
                  hint="timeout_s bounds the whole wait, however slow the server is.", timeout_s=4):  # fmt: skip
            server.reset(delay_s=1.0)
            [got] = run(lambda b: together(b, [("subtract", [3, 1])]), timeout_s=0.3)
            assert isinstance(got.error, TimeoutError), (
                f"with the server 1 s late, the call {got.describe()}"
            )
            assert got.elapsed_s < 0.9, f"it gave up after {got.elapsed_s:.2f} s with timeout_s=0.3"
