"""Lesson 06's figures for `make bench`: thin over fat bytes at 10% and 100% needing details.

Both designs run in the same `EventLab` (4 consumers, 20 small orders per round, bytes
counted on the wire of RabbitMQ and of the orders service); each figure is the median of
3 ratios, each ratio from a thin and a fat round run back to back.
"""

from __future__ import annotations

from statistics import median

from labsupport import ensure_rabbitmq

from .rigs import EventLab

__all__ = ["measure"]


def measure() -> dict[str, float]:
    """Return thin_over_fat_bytes_at_10pct and _at_100pct, measured in one run (~5 s)."""
    ratios: dict[str, list[float]] = {"10pct": [], "100pct": []}
    with EventLab(ensure_rabbitmq()) as lab:
        for _ in range(3):
            for label, share in (("10pct", 0.1), ("100pct", 1.0)):
                thin, fat = lab.run("thin", share), lab.run("fat", share)
                ratios[label].append(thin.total_bytes / fat.total_bytes)
    return {f"thin_over_fat_bytes_at_{label}": round(median(values), 3)
            for label, values in ratios.items()}  # fmt: skip
