"""Draw a sequence diagram of messages between services, coloured by correlation id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._output import RUN_COLORS, VERMILLION, YELLOW, figure_and_axes, finish_chart, lab_style

# Vermillion means "error" and yellow is hard to read as a thin line: keep them out.
_ID_COLORS = tuple(c for c in RUN_COLORS if c not in (VERMILLION, YELLOW)) + ("#8C564B", "#17BECF")


@dataclass(frozen=True)
class Message:
    """One message: when, from which service to which, what, and its correlation id."""

    t_s: float
    from_service: str
    to_service: str
    label: str
    correlation_id: str


def _as_message(event) -> Message:
    if isinstance(event, Message):
        return event
    if isinstance(event, Mapping):
        get = event.get
        fields = (
            get("t_s", get("t")),
            get("from_service", get("from")),
            get("to_service", get("to")),
            get("label", ""),
            get("correlation_id", ""),
        )
    elif hasattr(event, "from_service"):
        fields = tuple(getattr(event, f, "") for f in Message.__dataclass_fields__)
    else:
        fields = tuple(event)
    if len(fields) != 5 or fields[0] is None or not fields[1] or not fields[2]:
        raise ValueError(
            f"cannot read {event!r} as a message: give (t_s, from_service, to_service, label, "
            "correlation_id) tuples or dicts with those keys"
        )
    t, src, dst, label, cid = fields
    return Message(float(t), str(src), str(dst), str(label or ""), str(cid or ""))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plot_sequence(
    events,
    ax: Axes | None = None,
    *,
    max_messages: int = 40,
    title: str = "Messages between services",
) -> Figure:
    """Draw one lifeline per service and one arrow per message, in time order, top to bottom.

    `events` are `(t_s, from_service, to_service, label, correlation_id)` tuples, dicts
    with those keys, or `Message`s. Rows are evenly spaced so labels never collide; the
    left axis gives each message's real time. Arrows share a colour when they share a
    correlation id, which is how a reply finds its request. Lifelines and arrows carry
    gids ("lifeline:<service>", "message:<row>") for tests and curious learners.
    """
    messages = sorted((_as_message(e) for e in events), key=lambda m: m.t_s)
    total, messages = len(messages), messages[:max_messages]
    services = list(dict.fromkeys(s for m in messages for s in (m.from_service, m.to_service)))
    column = {s: i for i, s in enumerate(services)}
    ids = list(dict.fromkeys(m.correlation_id for m in messages))
    color_of = {cid: _ID_COLORS[i % len(_ID_COLORS)] for i, cid in enumerate(ids)}
    size_in = (min(max(6.0, 1.8 * len(services) + 2.5), 14.0), min(2.2 + 0.38 * len(messages), 14))
    with lab_style():
        fig, ax, created = figure_and_axes(ax, figsize_in=size_in)
        _draw_lifelines(ax, column, len(messages))
        for row, m in enumerate(messages):
            x_from, x_to = column[m.from_service], column[m.to_service]
            _draw_arrow(ax, row, x_from, x_to, m, color_of[m.correlation_id])
        _label_times(ax, messages)
        ax.set_xlim(-0.7, max(len(services) - 0.3, 0.7))
        shown = f" (first {len(messages)} of {total})" if total > len(messages) else ""
        ax.set_title(title + shown)
        _legend_ids(ax, ids, color_of)
    return finish_chart(fig, created, title)


def _draw_lifelines(ax: Axes, column: dict[str, int], rows: int) -> None:
    box = dict(boxstyle="round,pad=0.4", facecolor="white", edgecolor="0.3")
    for name, x in column.items():
        ax.plot([x, x], [-0.6, rows - 0.4], color="0.55", ls="--", lw=1, gid=f"lifeline:{name}")
        ax.text(x, -0.8, name, ha="center", va="bottom", fontweight="bold", bbox=box)
    ax.set_xticks([])
    ax.grid(False)
    ax.spines[["bottom", "left"]].set_visible(False)


def _label_times(ax: Axes, messages: list[Message]) -> None:
    origin = messages[0].t_s if messages else 0.0
    span_s = messages[-1].t_s - origin if messages else 0.0
    scale, unit = (1000.0, "ms") if span_s < 10 else (1.0, "s")
    # One decimal for every tick, so the column reads as one scale (0.0, 0.9, 20.8).
    labels = [f"{(m.t_s - origin) * scale:.1f}" for m in messages]
    ax.set_yticks(range(len(messages)), labels, fontsize=8.5)
    ax.set_ylim(len(messages) - 0.3, -1.6)  # inverted: time runs downwards
    ax.set_ylabel(f"time since first message ({unit})")


def _draw_arrow(ax: Axes, row: int, x_from: int, x_to: int, m: Message, color: str) -> None:
    style = dict(arrowstyle="-|>", color=color, linewidth=1.8, shrinkA=0, shrinkB=0)
    if x_from == x_to:  # a service talking to itself: a small loop to the right
        style["connectionstyle"] = "arc3,rad=-0.9"
        arrow = ax.annotate(
            "", xy=(x_to + 0.02, row + 0.25), xytext=(x_from + 0.02, row - 0.25), arrowprops=style
        )
        ax.text(x_from + 0.22, row, _short(m.label, 28), va="center", fontsize=9, color=color)
    else:
        arrow = ax.annotate("", xy=(x_to, row), xytext=(x_from, row), arrowprops=style)
        ax.text(
            (x_from + x_to) / 2,
            row - 0.12,
            _short(m.label, 34),
            ha="center",
            va="bottom",
            fontsize=9,
            color="0.15",
        )
    arrow.set_gid(f"message:{row}")


def _legend_ids(ax: Axes, ids: list[str], color_of: dict[str, str]) -> None:
    from matplotlib.lines import Line2D

    named = [cid for cid in ids if cid][:8]
    if len(named) < 2:
        return
    handles = [Line2D([], [], color=color_of[c], linewidth=2, label=_short(c, 12)) for c in named]
    extra = f" (first 8 of {len(ids)})" if len(ids) > 8 else ""
    ax.legend(
        handles=handles,
        title=f"correlation id{extra}",
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        frameon=False,
    )
