"""Put runs side by side: the summary columns every table shows, and `compare`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labsupport.measure._table import Table

if TYPE_CHECKING:
    from labsupport.measure.result import LatencySummary, LoadResult


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


def compare(results: dict[str, LoadResult]) -> Table:
    """Put several runs side by side in one table, one row per name."""
    if not results:
        raise ValueError("compare() needs at least one result, e.g. compare({'in kernel': res})")
    rows, notes = [], []
    for name, res in results.items():
        rows.append({"run": name, **summary_row(res.summary())})
        notes.append(f"{name}: {res.describe()}; {describe_placement(res.placement)}")
        notes += [f"{name}: {n}" for n in res.notes]
    return Table(rows, notes)
