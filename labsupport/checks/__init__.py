"""Check exercise tasks: run the learner's code, show what passed and a hint, never the answer.

A lesson's checks module declares each task once:

    from labsupport.checks import task

    @task("retry_get", lesson="01", title="GET with retries")
    def check_retry_get(case, get_with_retries):
        with case("does not retry a 404", hint="A 404 will not go away by asking again."):
            ...
            assert calls == 1, f"made {calls} calls for a 404"

and the learner runs `check_retry_get(get_with_retries)` (or `check("retry_get",
get_with_retries)`) in the exercise notebook. The check shows a table of cases with
✓/✗, the failure message and the hint, and records lesson, task, cases passed and
status in the output's metadata (`metadata["labsupport"]["check"]`) for the grader.

- Score: the fraction of cases passed, in [0, 1]; an untouched task (its body still
  raises NotImplementedError) is "not attempted" and scores 0.
- Each case has a deadline (the task's `timeout_s`, 10 s unless set, or the case's own
  `timeout_s=`); learner code that passes it is abandoned in a background thread and
  the case reported as too slow.
- The check body runs in a thread of its own, with no event loop running: a case may
  call `asyncio.run(...)` on the learner's coroutine, which a cell cannot.
- Exceptions from the learner's code are reported per case, never raised, unless
  LAB_CHECKS_STRICT=1 (set when the solutions run under nbval): then a check that
  does not pass raises CheckFailed after showing its report.

The rule for every lesson's checks (lessons 01 and 04 follow it; copy them):

1. **Each case is a scenario a real service produces**: a live server, a real broker, a
   fault injected through `labsupport.faults` (a 503, a refused or silent or trickling
   connection, a consumer killed mid-message). Not a stub that answers what the learner
   expects.
2. **A task's cases cover its spec bullet by bullet**, and the happy shape of a failure
   is not enough: other status codes, a failure that never ends, concurrent callers,
   work that arrives late, a crash outside the obvious place.
3. **One wrong behaviour fails one case, with its own hint.** A hint names the symptom
   the learner can observe ("the page waited for a reply that arrived a byte at a
   time"), never the fix or the library call. Set-up that may fail for an unrelated
   reason must not assert (drive the learner's code until the state you need, then
   judge in the case that is about it).
4. **A verdict is the same on every run**: faults seeded (`seed=`, `random.seed` before a
   case whose outcome depends on the learner's random draws), races made to interleave
   at their worst on every run (a barrier, not luck), waits bounded, and every timing
   margin measured on the course's loaded 2-core machine and written next to it. A wrong
   answer must never pass "sometimes".
5. **Tests prove it** (`tests/test_lessonNN.py`): the real solution, loaded from
   `solutions/` with `load_answers`, passes 5 runs in a row; the blank exercise reads
   "not attempted"; at least 8 wrong answers per task a tired or clever learner would
   write (`load_answers(..., edits=...)` makes each one the solution with one mistake)
   fail exactly the cases that target their mistake.
"""

from __future__ import annotations

from ._answers import load_answers
from ._report import CaseResult, TaskReport
from ._task import STRICT_ENV, CheckFailed, Task, check, show_report, task

__all__ = [
    "CaseResult",
    "CheckFailed",
    "STRICT_ENV",
    "Task",
    "TaskReport",
    "check",
    "load_answers",
    "show_report",
    "task",
]
