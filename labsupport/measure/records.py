"""Hold one row per request, stored as columns so large runs stay cheap."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# Error names the harness itself gives to requests it could not finish.
UNFINISHED = "Unfinished"
NOT_STARTED = "NotStarted"


@dataclass(slots=True)
class RequestRecord:
    """Describe one request: when it was meant to start, started, ended, and how it went.

    Times are `time.perf_counter` seconds relative to the start of the run.
    """

    intended_s: float
    start_s: float
    end_s: float
    ok: bool
    error: str | None = None

    @property
    def latency_s(self) -> float:
        """Time the caller waited, counted from the intended send time."""
        return self.end_s - self.intended_s

    @property
    def service_s(self) -> float:
        """Time from the actual send to the reply."""
        return self.end_s - self.start_s

    @property
    def lateness_s(self) -> float:
        """How late the generator started this request."""
        return self.start_s - self.intended_s


class RecordTable(Sequence):
    """Keep request records as numpy columns; index or iterate to get `RequestRecord`s."""

    __slots__ = ("intended_s", "start_s", "end_s", "error")

    def __init__(self, intended_s, start_s, end_s, error=None) -> None:
        self.intended_s = np.asarray(intended_s, dtype=float)
        self.start_s = np.asarray(start_s, dtype=float)
        self.end_s = np.asarray(end_s, dtype=float)
        n = len(self.intended_s)
        if not (len(self.start_s) == len(self.end_s) == n):
            raise ValueError("intended_s, start_s and end_s must have the same length")
        # An object array of None (ok) or an error name: errors are rare, so this stays small.
        self.error = (
            np.full(n, None, dtype=object) if error is None else np.asarray(error, dtype=object)
        )

    @classmethod
    def from_records(cls, records: Iterable[RequestRecord]) -> RecordTable:
        """Build a table from `RequestRecord`s (handy for synthetic data in tests and lessons)."""
        rows = list(records)
        return cls(
            [r.intended_s for r in rows],
            [r.start_s for r in rows],
            [r.end_s for r in rows],
            [None if r.ok else (r.error or "Error") for r in rows],
        )

    @property
    def ok(self) -> np.ndarray:
        """True where the request succeeded."""
        return np.equal(self.error, None)

    @property
    def latency_s(self) -> np.ndarray:
        return self.end_s - self.intended_s

    @property
    def lateness_s(self) -> np.ndarray:
        return self.start_s - self.intended_s

    def __len__(self) -> int:
        return len(self.intended_s)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        err = self.error[index]
        return RequestRecord(
            float(self.intended_s[index]),
            float(self.start_s[index]),
            float(self.end_s[index]),
            err is None,
            err,
        )

    def __iter__(self) -> Iterator[RequestRecord]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"<RecordTable of {len(self)} requests>"


def nearest_rank(sorted_values: np.ndarray, q: float) -> float:
    """Return the q-th percentile (0-100) by nearest rank, like HdrHistogram and wrk2.

    The result is always one of the measured values: the smallest one with at
    least q% of all values at or below it. NaN when there are no values.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    n = len(sorted_values)
    if n == 0:
        return math.nan
    # The tiny epsilon keeps float noise (99.9 * 1000 / 100) from bumping the rank by one.
    rank = max(1, math.ceil(q * n / 100 - 1e-9))
    return float(sorted_values[rank - 1])


def table_from_ns(t0_ns: int, intended_ns, start_ns, end_ns, errors: dict[int, str]) -> RecordTable:
    """Build a table, sorted by intended time, from raw perf_counter_ns readings.

    `errors` maps a row's position to its error name; rows not in it succeeded.
    """
    intended = (np.asarray(intended_ns, dtype=np.int64) - t0_ns) / 1e9
    error = np.full(len(intended), None, dtype=object)
    for index, name in errors.items():
        error[index] = name
    order = np.argsort(intended, kind="stable")
    return RecordTable(
        intended[order],
        ((np.asarray(start_ns, dtype=np.int64) - t0_ns) / 1e9)[order],
        ((np.asarray(end_ns, dtype=np.int64) - t0_ns) / 1e9)[order],
        error[order],
    )
