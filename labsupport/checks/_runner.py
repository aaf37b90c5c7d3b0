"""Run a check's body in a worker thread, case by case, each against its own deadline.

A `with case(...)` block cannot be moved to another thread, so the whole check body
runs in one daemon thread and reports each case as it starts and ends. The calling
thread watches the deadline of the case in progress; when it passes, the check is
abandoned: the case is reported as too slow and the cases after it as not run. Python
cannot stop a thread from outside, so the abandoned one keeps running until the
process ends (the grader's per-cell timeout and kernel kill are the backstop).
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from ._report import ERROR, FAILED, NOT_ATTEMPTED, PASSED, TIMEOUT, CaseResult

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1]) + os.sep
_LIBRARY_DIRS = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
_abandoned: list[threading.Thread] = []


def count_background_threads() -> int:
    """Return how many abandoned check threads are still running in this process."""
    _abandoned[:] = [t for t in _abandoned if t.is_alive()]
    return len(_abandoned)


class Progress:
    """Record what the worker thread is doing, for the thread that waits on it."""

    def __init__(self, check_file: str, default_timeout_s: float) -> None:
        self.check_file = check_file
        self.default_timeout_s = default_timeout_s
        self.cond = threading.Condition()
        self.results: list[CaseResult] = []
        self.current: tuple[str, str, float] | None = None  # name, hint, timeout_s
        self.since = time.monotonic()
        self.finished = False
        self.abandoned = False
        self.problem = ""
        self.problem_outcome = ERROR

    def case(self, name: str, *, hint: str, timeout_s: float | None = None) -> _Case:
        """Open one case of a check: `with case("does X", hint="symptom"):`."""
        if not name.strip() or not hint.strip():
            raise ValueError("every case needs a name and a hint that names the symptom")
        return _Case(self, name, hint, timeout_s or self.default_timeout_s)

    def deadline(self) -> float:
        timeout_s = self.current[2] if self.current else self.default_timeout_s
        return self.since + timeout_s

    def mark(self, current: tuple[str, str, float] | None, result: CaseResult | None) -> None:
        with self.cond:
            if self.abandoned:
                return
            if result is not None:
                self.results.append(result)
            self.current, self.since = current, time.monotonic()
            self.cond.notify_all()

    def finish(self, exc: BaseException | None) -> None:
        with self.cond:
            if self.abandoned:
                return
            if exc is not None:
                self.problem_outcome, self.problem = classify(exc, self.check_file)
                if self.problem_outcome == FAILED:
                    self.problem_outcome = ERROR
                self.problem = f"the check stopped outside any case: {self.problem}"
            elif not self.results:
                self.problem = "the check ran no cases: its author must add `with case(...)` blocks"
            self.finished = True
            self.cond.notify_all()

    def abandon(self) -> None:
        """Give up on a worker that passed its deadline (called with cond held)."""
        self.abandoned = True
        if self.current is None:
            self.problem = (
                f"the check stalled between cases for longer than {self.default_timeout_s:g} s"
            )
            return
        name, hint, timeout_s = self.current
        message = (
            f"took longer than {timeout_s:g} s and was abandoned; the code may still be "
            "running in a background thread"
        )
        self.results.append(CaseResult(name, TIMEOUT, message, hint))


class _Case:
    def __init__(self, progress: Progress, name: str, hint: str, timeout_s: float) -> None:
        self.progress, self.name, self.hint, self.timeout_s = progress, name, hint, timeout_s

    def __enter__(self) -> _Case:
        if self.progress.current is not None:
            raise RuntimeError(f"case {self.name!r} is inside another case: cases cannot nest")
        self.progress.mark((self.name, self.hint, self.timeout_s), None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None:
            result = CaseResult(self.name, PASSED)
        elif isinstance(exc, (Exception, SystemExit)):
            outcome, message = classify(exc, self.progress.check_file)
            result = CaseResult(self.name, outcome, message, self.hint)
        else:
            return False
        self.progress.mark(None, result)
        return True


def run_cases(body: Callable[..., Any], progress: Progress, args: tuple, kwargs: dict) -> None:
    """Run body(case, *args, **kwargs) in a worker thread until it ends or a deadline passes."""

    def work() -> None:
        try:
            body(progress.case, *args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - anything the learner's code raises is reported
            progress.finish(exc)
        else:
            progress.finish(None)

    context = contextvars.copy_context()  # keeps the kernel's output routed to this cell
    worker = threading.Thread(target=context.run, args=(work,), name="lab-check", daemon=True)
    worker.start()
    with progress.cond:
        try:
            while not progress.finished:
                remaining_s = progress.deadline() - time.monotonic()
                if remaining_s <= 0:
                    break
                progress.cond.wait(remaining_s)
        finally:  # also on KeyboardInterrupt: the worker is left behind either way
            if not progress.finished:
                progress.abandon()
                _abandoned.append(worker)


def classify(exc: BaseException, check_file: str) -> tuple[str, str]:
    """Return (outcome, message) for an exception that ended a case."""
    if isinstance(exc, NotImplementedError):
        return NOT_ATTEMPTED, "not written yet (it still raises NotImplementedError)"
    frames = traceback.extract_tb(exc.__traceback__)
    if (
        isinstance(exc, AssertionError)
        and frames
        and _is_check_code(frames[-1].filename, check_file)
    ):
        return FAILED, str(exc).strip() or "the result was not what this case expects"
    text = str(exc).strip()
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    learner = [f for f in frames if not _is_check_code(f.filename, check_file)]
    learner = [f for f in learner if not f.filename.startswith(_LIBRARY_DIRS)]
    if learner:
        message += f" (raised in {learner[-1].name}, line {learner[-1].lineno})"
    return ERROR, message


def _is_check_code(filename: str, check_file: str) -> bool:
    return filename == check_file or filename.startswith(_PACKAGE_DIR)
