"""Build the executed course as a static website: every lesson and solution, every plot.

    python -m labsupport.lab run -- python -m labsupport.site [--out DIR] [--timeout-per-cell 300]

(`make site` does exactly that.) Each notebook in notebooks/ and solutions/ runs top to
bottom in a fresh kernel (cwd: its own folder; solutions with LAB_CHECKS_STRICT=1), is
rendered to HTML by nbconvert with its images inline, and is linked from an index page
that maps the course: each lesson's title, what it teaches, its run time, its plots.
The blank exercises are copied beside them for download. The site is rebuilt from
scratch into `<lab folder>/site` (`.lab/site`, git-ignored): it is built, never committed.
A notebook with an error still gets its page, marked red on the index, and the command
exits non-zero.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import config

GROUPS = {"notebooks": "Lessons", "solutions": "Solved exercises (for instructors)"}


@dataclass
class Page:
    """One executed notebook: where its page is, how long it ran, what it showed."""

    group: str
    source: Path
    title: str
    learn: list[str] = field(default_factory=list)
    seconds: float = 0.0
    images: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def href(self) -> str:
        return f"{self.group}/{self.source.stem}.html"


def execute(path: Path, timeout_per_cell_s: float, strict: bool) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel; errors stay in the outputs."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    previous = os.environ.get("LAB_CHECKS_STRICT")
    if strict:
        os.environ["LAB_CHECKS_STRICT"] = "1"  # the kernel inherits it
    try:
        NotebookClient(
            nb,
            timeout=timeout_per_cell_s,
            kernel_name="python3",
            allow_errors=True,
            store_widget_state=True,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        if previous is None:
            os.environ.pop("LAB_CHECKS_STRICT", None)
        else:
            os.environ["LAB_CHECKS_STRICT"] = previous
    return nb


def describe(group: str, path: Path, nb: nbformat.NotebookNode) -> Page:
    """Read a page's title and 'you will learn' bullets, count its images and errors."""
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    title = next((ln[2:].strip() for ln in first.splitlines() if ln.startswith("# ")), path.stem)
    learn: list[str] = []
    for line in first.splitlines():  # bullets, with their wrapped continuation lines
        if line.startswith("- "):
            learn.append(line[2:].strip())
        elif learn and line.startswith("  ") and line.strip():
            learn[-1] += " " + line.strip()
        elif learn:
            break
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    return Page(
        group,
        path,
        title,
        learn,
        images=sum("image/png" in o.get("data", {}) for o in outputs),
        errors=[
            f"code cell {n}: {o.ename}: {o.evalue}".rstrip(": ")
            for n, c in enumerate(code, 1)
            for o in c.outputs
            if o.output_type == "error"
        ],
    )


def render(nb: nbformat.NotebookNode, target: Path, built: set[str]) -> None:
    """Write the notebook as one HTML page (images inline); links to built pages go .html."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    group = target.parent.name

    def relink(match: re.Match) -> str:
        site_path = os.path.normpath(f"{group}/{match[1]}")  # "../solutions/x" -> "solutions/x"
        return f'href="{match[1]}.html"' if site_path in built else match[0]

    target.write_text(re.sub(r'href="([\w./-]+)\.ipynb"', relink, body), encoding="utf-8")


def _inline_markdown(text: str) -> str:
    """Render `code`, **bold** and *italic* of one line; escape the rest."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    return re.sub(r"\*([^*]+)\*", r"<i>\1</i>", out)


def index_html(pages: list[Page], took_s: float) -> str:
    """Return the index page: the course map, one table per group."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Microservice Communication Lab</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{padding:.3em"
        " .6em;border-bottom:1px solid #ddd;vertical-align:top;text-align:left}"
        ".red{background:#ffd6d6}</style>",
        "<h1>Microservice Communication Lab</h1>",
        f"<p>Every notebook below was executed from scratch on {time.strftime('%Y-%m-%d %H:%M')}"
        f" in {took_s / 60:.1f} min; plots are the ones that run drew.</p>",
    ]
    for group, heading in GROUPS.items():
        rows = [p for p in pages if p.group == group]
        if not rows:
            continue
        parts.append(f"<h2>{heading}</h2><table><tr><th>notebook</th><th>you will learn</th>")
        parts.append("<th>run time</th><th>plots</th><th>status</th></tr>")
        for p in rows:
            learn = "".join(f"<li>{_inline_markdown(item)}</li>" for item in p.learn)
            status = "ok" if not p.errors else html.escape("; ".join(p.errors)[:300])
            parts.append(
                f"<tr class='{'red' if p.errors else ''}'><td><a href='{p.href}'>"
                f"{html.escape(p.title)}</a></td><td><ul>{learn}</ul></td>"
                f"<td>{p.seconds:.0f} s</td><td>{p.images}</td><td>{status}</td></tr>"
            )
        parts.append("</table>")
    parts.append(
        "<p>The blank exercise notebooks, to hand out: <a href='exercises/'>exercises/</a>.</p>"
    )
    return "\n".join(parts)


def build_site(
    out: Path,
    sources: dict[str, Path] | None = None,
    timeout_per_cell_s: float = 300,
    downloads: Path | None = None,
) -> list[Page]:
    """Execute and render every notebook of `sources` ({group: folder}) into `out`, freshly."""
    sources = sources or {g: config.REPO_ROOT / g for g in GROUPS}
    downloads = downloads if downloads is not None else config.REPO_ROOT / "exercises"
    fresh = out.with_name(out.name + ".building")
    shutil.rmtree(fresh, ignore_errors=True)
    start, pages = time.perf_counter(), []
    planned = {g: sorted(f.glob("[0-9]*.ipynb")) for g, f in sources.items()}
    built = {f"{g}/{p.stem}" for g, paths in planned.items() for p in paths}
    for group, paths in planned.items():
        (fresh / group).mkdir(parents=True)
        for path in paths:
            t0 = time.perf_counter()
            nb = execute(path, timeout_per_cell_s, strict=group == "solutions")
            page = describe(group, path, nb)
            page.seconds = time.perf_counter() - t0
            render(nb, fresh / page.href, built)
            nbformat.write(nb, fresh / group / path.name)
            print(
                f"{page.href:50s} {page.seconds:6.1f} s  {page.images:2d} plots  "
                f"{'ok' if not page.errors else page.errors[0]}",
                flush=True,
            )
            pages.append(page)
    if downloads.is_dir():
        shutil.copytree(downloads, fresh / "exercises", ignore=shutil.ignore_patterns(".*"))
    (fresh / "index.html").write_text(index_html(pages, time.perf_counter() - start), "utf-8")
    timings = {p.href: {"seconds": round(p.seconds, 1), "images": p.images} for p in pages}
    (fresh / "timings.json").write_text(json.dumps(timings, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    fresh.rename(out)
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labsupport.site",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=None, help="default: <lab folder>/site")
    parser.add_argument("--timeout-per-cell", type=float, default=300)
    args = parser.parse_args(argv)
    out = (args.out or config.lab_dir() / "site").resolve()
    pages = build_site(out, timeout_per_cell_s=args.timeout_per_cell)
    broken = [p for p in pages if p.errors]
    print(f"site: {out / 'index.html'} ({len(pages)} pages, {len(broken)} with errors)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
