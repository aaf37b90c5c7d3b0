"""The site builder runs every notebook and writes an index plus one page per notebook with its plots."""

from __future__ import annotations

import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labsupport.site import build_site

PLOT = """%matplotlib inline
import matplotlib.pyplot as plt
plt.plot([1, 2, 3])
plt.show()"""


def _lesson(path, title, *cells):
    intro = f"# {title}\n\n**You will learn**\n- one\n  thing\n- [next](01_second.ipynb)\n\nMore."
    nb = new_notebook(cells=[new_markdown_cell(intro), *cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def test_the_site_has_an_index_and_one_page_per_notebook_with_its_plots(tmp_path):
    lessons, solutions, out = tmp_path / "notebooks", tmp_path / "solutions", tmp_path / "site"
    lessons.mkdir(), solutions.mkdir()
    _lesson(lessons / "00_first.ipynb", "00 · First", new_code_cell(PLOT))
    _lesson(lessons / "01_second.ipynb", "01 · Second", new_code_cell("1 + 1"))
    _lesson(solutions / "01_second.ipynb", "01 · Solved", new_code_cell("raise ValueError('boom')"))
    out.mkdir()
    (out / "stale.html").write_text("from an earlier build")

    pages = build_site(out, {"notebooks": lessons, "solutions": solutions}, 60, tmp_path / "no")

    assert sorted(p.href for p in pages) == [
        "notebooks/00_first.html",
        "notebooks/01_second.html",
        "solutions/01_second.html",
    ]
    assert not (out / "stale.html").exists(), "the site is rebuilt from scratch"
    first = (out / "notebooks" / "00_first.html").read_text()
    assert first.count('src="data:image/png;base64,') == 1
    assert 'href="01_second.html"' in first, "links between built pages point at their pages"
    index = (out / "index.html").read_text()
    for page in pages:
        assert f"href='{page.href}'" in index
    assert "00 · First" in index and "<li>one thing</li>" in index
    assert "code cell 1: ValueError: boom" in index and "class='red'" in index
    assert [p.images for p in pages] == [1, 0, 0]
    assert set(json.loads((out / "timings.json").read_text())) == {p.href for p in pages}
