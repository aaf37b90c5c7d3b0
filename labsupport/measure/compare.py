"""Put runs side by side in one table: `compare`."""

from __future__ import annotations

from labsupport.display import Table
from labsupport.measure.result import LoadResult, describe_placement, summary_row


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
