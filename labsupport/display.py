"""Show things in a notebook: small tables of figures, and a helper's source.

Table([{"queue": "orders", "depth": 12}, {"queue": "billing", "depth": 0}])
Table.by_name({"prefetch 1": {"msg/s": 5100}}, first_column="setting")
show_source(serve_app)   # what `serve_app??` shows, as a cell's result
"""

from __future__ import annotations

import html
import inspect
import math
from collections.abc import Mapping, Sequence

__all__ = ["Table", "format_number", "show_source"]


def format_number(value) -> str:
    """Format a figure with about three significant digits, integers as they are."""
    if value is None:
        return "-"
    if isinstance(value, bool | int | str) or not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "-"
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


class Table:
    """Show rows of named figures as a text table, or as HTML inside a notebook."""

    def __init__(self, rows: Sequence[dict], notes: Sequence[str] = ()) -> None:
        self.rows = [dict(r) for r in rows]
        self.notes = list(notes)

    @classmethod
    def by_name(cls, rows: Mapping[str, Mapping], first_column: str = "") -> Table:
        """Build a table from named rows ({name: {column: value}}): names become a first column."""
        return cls([{first_column: name, **row} for name, row in rows.items()])

    def _columns(self) -> list[str]:
        columns: list[str] = []
        for row in self.rows:
            columns.extend(k for k in row if k not in columns)
        return columns

    def __repr__(self) -> str:
        columns = self._columns()
        cells = [[format_number(row.get(c)) for c in columns] for row in self.rows]
        widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
        lines += [
            "  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)) for line in cells
        ]
        return "\n".join(lines + self.notes)

    def _repr_html_(self) -> str:
        columns = self._columns()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(format_number(r.get(c)))}</td>" for c in columns)
            + "</tr>"
            for r in self.rows
        )
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}"

    def to_rows(self) -> list[dict]:
        """Return the rows as a list of dicts (for pandas or csv)."""
        return [dict(r) for r in self.rows]


def show_source(obj) -> object:
    """Show a helper's source with syntax colours: what `obj??` shows, as a cell's result."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
