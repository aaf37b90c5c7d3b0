"""Draw one trace as a timeline: a bar per span, coloured by the transport it crossed."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from labsupport.plots import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    lab_style,
    new_figure,
    save_figure,
)

from .rigs_trace import service_of

TRANSPORT_COLORS = {"http": BLUE, "grpc": GREEN, "amqp": ORANGE}


def plot_trace(spans, title: str = "One order, one trace: REST, then gRPC, then AMQP") -> Figure:
    """Draw spans as bars on a shared time axis (ms since the first span); one row per span."""
    spans = sorted(spans, key=lambda s: s.start_time)
    if not spans:
        raise ValueError("no spans to draw: run the flow first")
    origin = spans[0].start_time
    total_ms = max((s.end_time - origin) / 1e6 for s in spans)
    fig, ax = new_figure(figsize_in=(10, 0.5 * len(spans) + 1.6))
    with lab_style():
        for row, span in enumerate(spans):
            start, width = (span.start_time - origin) / 1e6, (span.end_time - span.start_time) / 1e6
            transport = str(span.attributes.get("transport", ""))
            color = TRANSPORT_COLORS.get(transport, GREY)
            ax.barh(row, max(width, total_ms / 250), left=start, height=0.6, color=color)
            ax.text(
                start + width,
                row,
                f"  {width:.2f} ms" if width < 1 else f"  {width:.1f} ms",
                va="center",
                fontsize=8.5,
            )
        labels = [f"{service_of(s)}: {s.name}" for s in spans]
        ax.set_yticks(range(len(spans)), labels, fontsize=9)
        ax.invert_yaxis()
        trace_id = f"{spans[0].context.trace_id:032x}"
        ax.set(
            title=f"{title}\ntrace id {trace_id}", xlabel="time since the first span started (ms)"
        )
        ax.grid(axis="y", visible=False)
        used = {str(s.attributes.get("transport", "")) for s in spans}
        legend = [
            Patch(color=color, label=name)
            for name, color in TRANSPORT_COLORS.items()
            if name in used
        ]
        ax.legend(
            handles=legend,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=9,
            title="carried over",
        )
        ax.set_xlim(0, total_ms * 1.18)
    save_figure(fig, title)
    return fig
