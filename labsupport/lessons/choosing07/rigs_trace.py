"""Read a trace back: one row per span, times relative to the first span, parents named."""

from __future__ import annotations


def service_of(span) -> str:
    """Return the `service.name` a span was recorded under."""
    return str(span.resource.attributes.get("service.name", "?"))


def trace_rows(spans) -> list[dict]:
    """Return the spans as table rows, in start order: service, span, kind, parent, start, duration."""
    spans = sorted(spans, key=lambda s: s.start_time)
    names = {s.context.span_id: f"{service_of(s)}: {s.name}" for s in spans}
    origin = spans[0].start_time if spans else 0
    return [
        {
            "trace id": f"{s.context.trace_id:032x}"[:12] + "…",
            "service": service_of(s),
            "span": s.name,
            "kind": s.kind.name,
            "parent": names.get(s.parent.span_id, "?") if s.parent else "(root)",
            "start (ms)": round((s.start_time - origin) / 1e6, 2),
            "duration (ms)": round((s.end_time - s.start_time) / 1e6, 2),
        }
        for s in spans
    ]
