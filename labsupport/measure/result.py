"""Summarise a load run: percentiles, histogram, timeline, and a readable table."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from labsupport.display import Table
from labsupport.measure.records import NOT_STARTED, UNFINISHED, RecordTable, nearest_rank


@dataclass(frozen=True)
class LatencySummary:
    """Hold the headline figures of one run; latencies count from the intended send time.

    Percentiles cover every request sent, failed ones included (an unfinished request
    counts with the time the harness gave up on it, a lower bound).
    """

    count: int
    ok: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    throughput_per_s: float
    max_lateness_ms: float
    send_rate_per_s: float = math.nan

    def as_dict(self) -> dict:
        """Return the figures as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class Timeline:
    """Hold per-bin figures of a run for plots; also readable as `timeline["p99_ms"]`.

    Latency and `sent` are binned by intended send time, so a stall shows where it
    hit; `done`, `errors` and `throughput_per_s` are binned by completion time.
    """

    bin_s: float
    t_s: np.ndarray
    sent: np.ndarray
    done: np.ndarray
    errors: np.ndarray
    throughput_per_s: np.ndarray
    p50_ms: np.ndarray
    p99_ms: np.ndarray
    max_ms: np.ndarray

    def __getitem__(self, name: str) -> np.ndarray:
        return getattr(self, name)

    def to_rows(self) -> list[dict]:
        """Return one dict per bin."""
        names = ["t_s", "sent", "done", "errors", "throughput_per_s", "p50_ms", "p99_ms", "max_ms"]
        return [{n: getattr(self, n)[i].item() for n in names} for i in range(len(self.t_s))]


@dataclass(repr=False, eq=False)
class LoadResult:
    """Hold what one load run measured, with the CPU placement it ran under."""

    mode: str
    records: RecordTable
    duration_s: float
    offered_rate_per_s: float | None = None
    clients: int | None = None
    placement: dict = field(default_factory=dict)
    generator_behind: bool = False
    notes: list[str] = field(default_factory=list)
    _sorted_ms: np.ndarray | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.mode not in ("closed", "open"):
            raise ValueError(f"mode must be 'closed' or 'open', got {self.mode!r}")
        if not isinstance(self.records, RecordTable):
            self.records = RecordTable.from_records(self.records)

    def _latency_ms(self) -> np.ndarray:
        if self._sorted_ms is None:
            self._sorted_ms = np.sort(self.records.latency_s) * 1000.0
        return self._sorted_ms

    def percentile(self, q: float) -> float:
        """Return the q-th latency percentile in milliseconds (nearest rank; q in 0-100)."""
        return nearest_rank(self._latency_ms(), q)

    def summary(self) -> LatencySummary:
        """Compute count, errors, percentiles, throughput and the generator's worst lateness."""
        rec, lat = self.records, self._latency_ms()
        n = len(rec)
        ok = int(rec.ok.sum())
        finished = n - int(np.isin(rec.error, [UNFINISHED, NOT_STARTED]).sum())
        started = np.sort(rec.start_s[~np.equal(rec.error, NOT_STARTED)])
        span = started[-1] - started[0] if len(started) > 1 else 0.0
        return LatencySummary(
            count=n,
            ok=ok,
            errors=n - ok,
            p50_ms=nearest_rank(lat, 50),
            p90_ms=nearest_rank(lat, 90),
            p99_ms=nearest_rank(lat, 99),
            p999_ms=nearest_rank(lat, 99.9),
            max_ms=float(lat[-1]) if n else math.nan,
            mean_ms=float(lat.mean()) if n else math.nan,
            throughput_per_s=finished / self.duration_s if self.duration_s > 0 else math.nan,
            max_lateness_ms=float(rec.lateness_s.max() * 1000.0) if n else math.nan,
            send_rate_per_s=float((len(started) - 1) / span) if span > 0 else math.nan,
        )

    def errors_by_type(self) -> dict[str, int]:
        """Count failed requests by error name, most frequent first."""
        names = [e for e in self.records.error if e is not None]
        return dict(Counter(names).most_common())

    def histogram(self, bins: int | list[float] = 30) -> tuple[np.ndarray, np.ndarray]:
        """Return `(counts, edges_ms)` over log-spaced latency bins (or the edges you pass)."""
        lat = self._latency_ms()
        if isinstance(bins, int):
            if bins < 1:
                raise ValueError(f"bins must be at least 1, got {bins}")
            positive = lat[lat > 0]
            low = positive[0] if len(positive) else 1e-3
            high = max(lat[-1], low * 1.01) if len(lat) else 1.0
            bins = np.geomspace(low, high, bins + 1)
        counts, edges = np.histogram(np.clip(lat, bins[0], None), bins=bins)
        return counts, edges

    def timeline(self, bin_s: float = 0.25) -> Timeline:
        """Split the run into `bin_s` slices with throughput, errors and percentiles per slice."""
        if bin_s <= 0:
            raise ValueError(f"bin_s must be positive, got {bin_s}")
        rec = self.records
        n_bins = max(1, math.ceil(max(self.duration_s, rec.end_s.max(initial=0.0)) / bin_s))
        by_send = np.clip((rec.intended_s // bin_s).astype(int), 0, n_bins - 1)
        by_end = np.clip((rec.end_s // bin_s).astype(int), 0, n_bins - 1)
        failed = ~rec.ok
        done = np.bincount(by_end, minlength=n_bins)
        p50, p99, worst = (np.full(n_bins, np.nan) for _ in range(3))
        latency_ms = rec.latency_s * 1000.0
        order = np.lexsort((latency_ms, by_send))
        edges = np.searchsorted(by_send[order], np.arange(n_bins + 1))
        for b in range(n_bins):
            chunk = latency_ms[order[edges[b] : edges[b + 1]]]
            if len(chunk):
                p50[b], p99[b], worst[b] = (
                    nearest_rank(chunk, 50),
                    nearest_rank(chunk, 99),
                    chunk[-1],
                )
        return Timeline(
            bin_s=bin_s,
            t_s=np.arange(n_bins) * bin_s,
            sent=np.bincount(by_send, minlength=n_bins),
            done=done,
            errors=np.bincount(by_end[failed], minlength=n_bins),
            throughput_per_s=done / bin_s,
            p50_ms=p50,
            p99_ms=p99,
            max_ms=worst,
        )

    def to_rows(self) -> list[dict]:
        """Return one dict per request (times in seconds, latency and lateness in ms)."""
        return [
            {
                "intended_s": r.intended_s,
                "start_s": r.start_s,
                "end_s": r.end_s,
                "latency_ms": r.latency_s * 1000.0,
                "lateness_ms": r.lateness_s * 1000.0,
                "ok": r.ok,
                "error": r.error,
            }
            for r in self.records
        ]

    def describe(self) -> str:
        """Say in one line what kind of run this was."""
        if self.mode == "open":
            return f"open loop at {self.offered_rate_per_s:g}/s for {self.duration_s:.2f} s"
        return f"closed loop with {self.clients} client(s) for {self.duration_s:.2f} s"

    def as_table(self) -> Table:
        """Return the summary as a one-row `Table` with placement, errors and warnings below."""
        notes = [f"placement: {describe_placement(self.placement)}"]
        if errors := self.errors_by_type():
            notes.append("errors: " + ", ".join(f"{k} x{v}" for k, v in errors.items()))
        notes += self.notes
        return Table([summary_row(self.summary())], notes)

    def __repr__(self) -> str:
        return f"<LoadResult: {self.describe()}>\n{self.as_table()!r}"

    def _repr_html_(self) -> str:
        return f"<p><b>{self.describe()}</b></p>{self.as_table()._repr_html_()}"


def summary_row(s: LatencySummary) -> dict:
    """Turn a summary into the columns shown in tables."""
    return {
        "count": s.count,
        "errors": s.errors,
        "p50 ms": s.p50_ms,
        "p90 ms": s.p90_ms,
        "p99 ms": s.p99_ms,
        "p99.9 ms": s.p999_ms,
        "max ms": s.max_ms,
        "mean ms": s.mean_ms,
        "req/s": s.throughput_per_s,
        "max late ms": s.max_lateness_ms,
    }


def describe_placement(placement: dict) -> str:
    """Say where a run's threads were allowed to run and where they were seen running."""
    if not placement:
        return "unknown"
    allowed = placement.get("affinity")
    seen = placement.get("cpus_seen")
    text = f"allowed CPUs {allowed} of {placement.get('nproc')}"
    return text + (f", measuring threads seen on {seen}" if seen else "")
