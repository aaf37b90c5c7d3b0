"""Turn what the lessons measure into plain arrays the charts can draw.

Charts accept a `LoadResult` from `labsupport.measure`, anything with `records`
(`RequestRecord`s or a column table), a dict of arrays, a `(times_s, latencies_ms[, ok])`
tuple, or a plain list of latencies in ms. This module is the only place that knows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

_HOW = (
    "pass a LoadResult, a dict with 'latencies_ms' (and optional 'times_s', 'ok'), "
    "a (times_s, latencies_ms[, ok]) tuple, or a list of latencies in ms"
)


@dataclass(frozen=True)
class LatencySeries:
    """Hold one run's requests as arrays: send time, latency, outcome, sender lateness."""

    times_s: np.ndarray  # intended send time, from the run's start; NaN when unknown
    latencies_ms: np.ndarray  # NaN when the request never finished
    ok: np.ndarray  # bool
    lateness_ms: np.ndarray  # how late the generator sent it; NaN when unknown
    label: str = ""
    origin_s: float = 0.0  # the clock reading subtracted from times_s

    @property
    def has_times(self) -> bool:
        return bool(np.isfinite(self.times_s).any())

    @property
    def end_times_s(self) -> np.ndarray:
        """When each request finished (or was given up), on the same axis as times_s."""
        return self.times_s + np.nan_to_num(self.latencies_ms) / 1000.0

    def finished_latencies_ms(self) -> np.ndarray:
        """Return the latencies of every request that has one, failed ones too, sorted.

        Like `LoadResult.summary()`: a failed call kept its caller waiting just the same.
        """
        return np.sort(self.latencies_ms[np.isfinite(self.latencies_ms)])


def _label_of(data, label: str | None) -> str:
    if label:
        return label
    named = getattr(data, "label", None) or getattr(data, "name", None)
    mode = getattr(data, "mode", None)  # LoadResult says "closed" or "open"
    return str(named) if named else (f"{mode} loop" if isinstance(mode, str) else "")


def _from_columns(times, latencies_ms, ok=None, lateness_ms=None, label="") -> LatencySeries:
    latencies = np.asarray(latencies_ms, dtype=float).ravel()
    n = latencies.size
    times = np.full(n, np.nan) if times is None else np.asarray(times, dtype=float).ravel()
    ok = np.ones(n, dtype=bool) if ok is None else np.asarray(ok, dtype=bool).ravel()
    late = np.full(n, np.nan) if lateness_ms is None else np.asarray(lateness_ms, dtype=float)
    if not (times.size == ok.size == late.size == n):
        raise ValueError(f"times, latencies and ok must have the same length ({n} latencies)")
    origin = pick_origin(times)
    return LatencySeries(times - origin, latencies, ok, late, label, origin)


def pick_origin(times_s) -> float:
    """Return the clock reading to call zero: 0 for times already relative, else the earliest.

    `labsupport.measure` records times from the start of the run; readings of
    `time.monotonic()` or `perf_counter()` are usually hours or days large.
    """
    times = np.asarray(times_s, dtype=float)
    if not np.isfinite(times).any():
        return 0.0
    earliest = float(np.nanmin(times))
    return 0.0 if 0.0 <= earliest < 3600.0 else earliest


def _from_records(records, label: str) -> LatencySeries:
    if hasattr(records, "intended_s") and np.ndim(records.intended_s) == 1:
        intended, start = np.asarray(records.intended_s), np.asarray(records.start_s)
        end, ok = np.asarray(records.end_s), np.asarray(records.ok, dtype=bool)
    else:
        rows = list(records)
        start = np.array([_num(getattr(r, "start_s", None)) for r in rows])
        intended = np.array([_num(getattr(r, "intended_s", None)) for r in rows])
        intended = np.where(np.isnan(intended), start, intended)
        end = np.array([_num(getattr(r, "end_s", None)) for r in rows])
        ok = np.array([bool(getattr(r, "ok", True)) for r in rows], dtype=bool)
    latency_ms = (end - intended) * 1000.0
    return _from_columns(intended, latency_ms, ok, (start - intended) * 1000.0, label)


def _num(value) -> float:
    return math.nan if value is None else float(value)


def _from_mapping(data: Mapping, label: str) -> LatencySeries:
    if "latencies_ms" in data:
        latencies = np.asarray(data["latencies_ms"], dtype=float)
    elif "latencies_s" in data:
        latencies = np.asarray(data["latencies_s"], dtype=float) * 1000.0
    else:
        raise TypeError(f"the dict has no 'latencies_ms' key: {_HOW}")
    return _from_columns(data.get("times_s"), latencies, data.get("ok"), None, label)


def as_series(data, label: str | None = None) -> LatencySeries:
    """Turn one run, in any of the shapes the lessons use, into a LatencySeries."""
    if isinstance(data, LatencySeries):
        return replace(data, label=label) if label else data
    name = _label_of(data, label)
    if hasattr(data, "records"):
        return _from_records(data.records, name)
    if isinstance(data, Mapping):
        return _from_mapping(data, name)
    if isinstance(data, Sequence | np.ndarray) and not isinstance(data, str | bytes):
        if len(data) in (2, 3) and all(np.ndim(part) == 1 for part in data):
            return _from_columns(data[0], data[1], data[2] if len(data) == 3 else None, None, name)
        if np.ndim(data) == 1:
            return _from_columns(None, data, None, None, name)
    raise TypeError(f"cannot plot {type(data).__name__} as latencies: {_HOW}")


def _is_one_run(data) -> bool:
    if isinstance(data, LatencySeries) or hasattr(data, "records"):
        return True
    if isinstance(data, Mapping):
        return "latencies_ms" in data or "latencies_s" in data
    if not isinstance(data, Sequence | np.ndarray) or isinstance(data, str | bytes):
        return True  # let as_series say what it accepts
    return not all(isinstance(d, LatencySeries | Mapping) or hasattr(d, "records") for d in data)


def as_runs(runs) -> list[LatencySeries]:
    """Turn one run, a dict name -> run, or a list of runs into labelled LatencySeries."""
    if isinstance(runs, Mapping) and not _is_one_run(runs):
        return [as_series(data, str(name)) for name, data in runs.items()]
    if _is_one_run(runs):
        return [as_series(runs)]
    series = [as_series(data) for data in runs]
    return [s if s.label else replace(s, label=f"run {i + 1}") for i, s in enumerate(series)]


def require_times(series: LatencySeries, chart: str) -> None:
    """Refuse to draw a timeline from latencies that carry no send times."""
    if series.latencies_ms.size and not series.has_times:
        raise ValueError(
            f"{chart} needs the time of each request: pass a LoadResult or "
            "a (times_s, latencies_ms[, ok]) tuple, not just latencies"
        )


def pick_bin_s(duration_s: float, target_bins: int = 30) -> float:
    """Choose a round bin width (1, 2 or 5 times a power of ten) giving ~target_bins bins."""
    raw = max(duration_s, 1e-3) / target_bins
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if step * power >= raw:
            return max(step * power, 0.01)
    return 10 * power


def format_ms(value: float) -> str:
    """Format a latency with about three significant digits: 0.347, 3.21, 41.2, 1234."""
    if not math.isfinite(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def percentile(sorted_values: np.ndarray, q: float) -> float:
    """Return the q-th percentile (0-100) by nearest rank; NaN for no values."""
    n = len(sorted_values)
    if n == 0:
        return math.nan
    return float(sorted_values[max(1, math.ceil(q * n / 100 - 1e-9)) - 1])
