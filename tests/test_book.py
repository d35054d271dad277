"""The book builds strictly (chapters executed, warnings are errors) and leaks nothing."""

import json
import re

import pytest

from rnngrade import leaks
from rnngrade.release import SOLUTIONS
from tests.book import HTML, ROOT, execution_reports, toc_pages

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]


@pytest.fixture(scope="module")
def build(book_build):
    return book_build


def test_book_builds_without_warnings(build):
    assert build.returncode == 0, (f"jupyter-book build failed:\n{build.stdout[-6000:]}\n{build.stderr[-3000:]}\n"
                                   f"cells that failed:\n{execution_reports() or '(no execution report)'}")


def test_every_toc_page_is_built(build):
    missing = [p for p in toc_pages() if not (HTML / f"{p}.html").exists()]
    assert not missing, f"pages in _toc.yml without HTML: {missing}"


def test_chapters_with_code_show_figures(build):
    for page in toc_pages():
        src = (ROOT / f"{page}.md").read_text()
        if "{code-cell}" in src and "plt." in src:
            html = (HTML / f"{page}.html").read_text()
            assert re.search(r"<img [^>]*src=", html), f"{page}: plotting code but no figure in the HTML"


def test_book_has_no_solution_or_hidden_text(build):
    found = leaks.scan_path(HTML, leaks.secret_lines(SOLUTIONS))
    assert not found, f"instructor text in the built book: {found}"


def test_no_solution_notebooks_in_the_build(build):
    names = {p.name for p in SOLUTIONS.rglob("*.ipynb")}
    for p in HTML.rglob("*.ipynb"):
        if p.name in names:
            assert "BEGIN SOLUTION" not in p.read_text(), f"{p} is a solution notebook"


def test_chapter8_shows_the_stored_reference_run(build):
    """Chapter 8's side-by-side table reads exercise 8's stored full-configuration run back
    (docs/benchmarks/g2p-cpu.json, written by make bench-g2p) with its date and scores."""
    stored = json.loads((ROOT / "docs" / "benchmarks" / "g2p-cpu.json").read_text())
    every = next(r for r in stored["exercises"]
                 if r["exercise"] == "ex08_pronunciation")["every_test_word_without_stress"]
    html = re.sub(r"<[^>]+>", "", (HTML / "book" / "ch08_pronunciation.html").read_text())
    assert "reference solution, full configuration" in html, "chapter 8 has no row for the stored run"
    page = html[html.index("reference solution, full configuration"):][:600]
    assert f"{every['wer']:.1%}" in page and f"{every['per']:.1%}" in page, page
    assert stored["environment"]["date"] in page, page
