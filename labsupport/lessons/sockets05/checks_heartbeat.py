"""Check lesson 05's second task: a heartbeat failure detector on one connection.

The learner writes `async def watch_heartbeats(reader, timeout_s) -> str`, returning
"closed" when the peer hangs up (EOF or reset) and "silent" when nothing arrived for
timeout_s. Each case connects to a live peer that behaves one way (see
`_fixtures.BEHAVIOURS`), runs the learner's coroutine with an outer bound, and
judges the verdict and when it came. The peer's first heartbeat is sent as soon as it
reads its orders, so the check's clock starts no later than that heartbeat.
"""

from __future__ import annotations

import asyncio
import time

from labsupport import serve_tcp
from labsupport.checks import task

from ._fixtures import BEHAVIOURS, YieldingReader, heartbeat_peer

TIMEOUT_S = 0.5
LATE_S = 0.35  # how late a verdict may come on a busy machine


def watch(target: str, watch_heartbeats, behaviour: str, bound_s: float):
    """Run the learner's watcher on a peer behaving as named; return (verdict, seconds, error)."""

    async def go():
        reader, writer = await asyncio.open_connection(*target.rsplit(":", 1))
        writer.write(behaviour.encode() + b"\n")
        started = time.monotonic()
        try:
            verdict = await asyncio.wait_for(
                watch_heartbeats(YieldingReader(reader), TIMEOUT_S), bound_s
            )
            return verdict, time.monotonic() - started, None
        except TimeoutError:
            return None, time.monotonic() - started, None
        except (ConnectionError, OSError) as exc:
            return None, time.monotonic() - started, exc
        finally:
            writer.close()

    return asyncio.run(go())


def quiet_after_s(behaviour: str) -> float:
    return sum(BEHAVIOURS[behaviour][0])


@task("heartbeat_detector", lesson="05", title="A heartbeat failure detector", timeout_s=8)
def check_heartbeat_detector(case, watch_heartbeats):
    """Judge watch_heartbeats(reader, timeout_s) -> "closed" or "silent"."""
    with serve_tcp(heartbeat_peer, name="check-heartbeats") as peer:
        with case("says 'closed' soon after the peer hangs up",
                  hint="When the peer closes, what does a read return? It is not a heartbeat."):  # fmt: skip
            verdict, took_s, error = watch(peer.target, watch_heartbeats, "closing", 1.5)
            assert error is None, f"raised {type(error).__name__} when the peer closed"
            assert verdict is not None, "had not answered 1.5 s after the peer closed"
            assert verdict == "closed", f"said {verdict!r} for a peer that closed its connection"
            late = took_s - quiet_after_s("closing")
            assert late < TIMEOUT_S, f"noticed the close {late:.2f} s after it, a timeout later"

        with case("says 'closed' when the connection is reset (the peer crashed)",
                  hint="A crashed peer's connection can end with a reset: see what the read raises."):  # fmt: skip
            verdict, took_s, error = watch(peer.target, watch_heartbeats, "dying", 1.5)
            assert error is None, (
                f"let {type(error).__name__} out instead of reporting the peer gone"
            )
            assert verdict == "closed", f"said {verdict!r} for a peer whose connection was reset"

        with case("says 'silent' about timeout_s after the last heartbeat",
                  hint="A hung peer keeps its connection open and sends nothing: a read just waits."):  # fmt: skip
            expected = quiet_after_s("silent") + TIMEOUT_S
            verdict, took_s, error = watch(peer.target, watch_heartbeats, "silent", 3 * expected)
            assert error is None, f"raised {type(error).__name__} for a silent peer"
            assert verdict is not None, f"had not fired {took_s:.1f} s into the silence"
            assert verdict == "silent", f"said {verdict!r} for a peer that went silent"
            assert took_s >= expected - 0.02, (
                f"fired {took_s:.2f} s after the first heartbeat; the silence began at "
                f"{quiet_after_s('silent'):.2f} s and timeout_s was {TIMEOUT_S}"
            )
            assert took_s <= expected + LATE_S, (
                f"fired {took_s - quiet_after_s('silent'):.2f} s into a silence, with timeout_s={TIMEOUT_S}"
            )

        with case("never fires on a slow peer whose heartbeats keep coming",
                  hint="Gaps of up to 0.6 x timeout_s between heartbeats are not a failure: "
                  "measure each wait from the latest heartbeat."):  # fmt: skip
            bound_s = quiet_after_s("slow") + 1.5
            verdict, took_s, error = watch(peer.target, watch_heartbeats, "slow", bound_s)
            assert error is None, f"raised {type(error).__name__} for a slow peer"
            assert verdict is not None, "had not answered 1.5 s after the slow peer closed"
            assert verdict == "closed", (
                f"said {verdict!r} {took_s:.2f} s in, while every gap between heartbeats "
                f"was at most {max(BEHAVIOURS['slow'][0])} s (timeout_s={TIMEOUT_S})"
            )
            assert took_s >= quiet_after_s("slow") - 0.02, (
                f"said 'closed' after {took_s:.2f} s, before the peer closed"
            )
