"""Tracing for lesson 07's hybrid flow: one OpenTelemetry tracer per service, spans kept in memory.

Each service of the flow gets its own `TracerProvider` (its own `service.name`), and all
of them hand finished spans to one `InMemorySpanExporter`, so the notebook can read the
whole trace without a collector or Jaeger. Context crosses the transports by hand, with
the W3C `traceparent` header, in the notebook's own cells.
"""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def tracer_for(service: str, exporter: InMemorySpanExporter) -> Tracer:
    """Return a tracer whose spans carry `service.name=service` and end up in `exporter`."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("lesson07")
