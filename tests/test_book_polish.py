"""What a reader of the built book expects beyond "it builds": described figures, exercise
downloads, launch links, references that link, no asset from the network.

Static checks of ``_build/html`` (the session's one build, ``conftest.book_build``). Pages still
marked "This chapter is being written" are skipped where a check needs a written chapter.
"""

import re
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from bs4 import BeautifulSoup

from tests.book import HTML, ROOT, toc_pages

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]
PLACEHOLDER = "This chapter is being written"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


@pytest.fixture(autouse=True, scope="module")
def _built_book(book_build):
    """Every check here reads the session's build of the book."""


def _built() -> list[str]:
    pages = [p for p in toc_pages() if (HTML / f"{p}.html").exists()]
    if not pages:
        pytest.fail(f"the book is not built: no pages in {HTML}")
    return pages


def _soup(page: str) -> BeautifulSoup:
    return BeautifulSoup((HTML / f"{page}.html").read_text(), "html.parser")


def _article(page: str):
    soup = _soup(page)
    return soup.select_one("article.bd-article") or soup.select_one("main") or soup


def _written(page: str) -> bool:
    src = (ROOT / f"{page}.md").read_text()
    return PLACEHOLDER not in src


def chapters() -> list[str]:
    return [p for p in toc_pages() if Path(p).name.startswith("ch")]


def exercise_for(chapter: str) -> str | None:
    """ex05_lstm for book/ch05_lstm: the released exercise with the chapter's number."""
    num = re.match(r"ch(\d+)", Path(chapter).name).group(1)
    found = sorted(p.name for p in (ROOT / "exercises").glob(f"ex{num}_*") if p.is_dir())
    return found[0] if found else None


def test_every_figure_has_alt_text_and_a_caption():
    """docs/authoring.md ("Figures") says how: `mystnb: image: alt:` and `figure: caption:`."""
    problems = []
    for page in _built():
        for img in _article(page).find_all("img"):
            src = img.get("src", "")
            alt = (img.get("alt") or "").strip()
            # Sphinx writes the image's path when no alt text was given: that is no description.
            if not alt or alt == src or alt.endswith((".png", ".svg", ".jpg")) or alt.startswith("_images/"):
                problems.append(f"{page}: {src} has no alt text (alt={alt!r})")
            fig = img.find_parent("figure")
            cap = fig.find("figcaption") if fig else None
            if cap is None or not cap.get_text(strip=True):
                problems.append(f"{page}: {src} has no caption (not inside a figure with a figcaption)")
    assert not problems, "figures without alt text or caption (see docs/authoring.md, Figures):\n  " + \
        "\n  ".join(problems)


def test_each_written_chapter_links_its_exercise_notebook():
    checked, problems = 0, []
    for page in _built():
        if page not in chapters() or not _written(page):
            continue
        ex = exercise_for(page)
        if ex is None:
            continue  # the exercise is not released yet
        checked += 1
        hrefs = [a["href"] for a in _article(page).find_all("a", href=True)]
        # the {download} link to the notebook becomes a zip (book/_ext/page_fixes.py): a browser
        # shows a linked .ipynb read from files as raw JSON
        hits = [h for h in hrefs if unquote(urlsplit(h).path).endswith(f"/{ex}.zip")]
        if not hits:
            problems.append(f"{page}: no download link to {ex} (use {{download}}`...<../exercises/{ex}/{ex}.ipynb>`)")
            continue
        target = (HTML / Path(page).parent / unquote(urlsplit(hits[0]).path)).resolve()
        release = ROOT / "exercises" / ex / f"{ex}.ipynb"
        if not target.is_file():
            problems.append(f"{page}: the link {hits[0]} names no file in the build")
            continue
        with zipfile.ZipFile(target) as z:
            names = z.namelist()
            if f"{ex}/{ex}.ipynb" not in names or "HOW-TO-OPEN.txt" not in " ".join(names):
                problems.append(f"{page}: {hits[0]} holds {names}")
            elif z.read(f"{ex}/{ex}.ipynb") != release.read_bytes():
                problems.append(f"{page}: the zipped {ex}.ipynb is not the released exercises/{ex}/{ex}.ipynb")
    assert not problems, "\n".join(problems)
    if not checked:
        pytest.skip("no written chapter with a released exercise yet")


def test_colab_buttons_open_the_exercise_notebooks():
    """Colab cannot open a MyST chapter: its button opens the chapter's exercise (book/_ext/page_fixes.py)."""
    colab = (CONFIG.get("launch_buttons") or {}).get("colab_url")
    if not colab:  # the default: no button, and no link to a repository that is not there
        found = [f"{page}: {a['href']}" for page in _built() for a in _soup(page).find_all("a", href=True)
                 if "colab.research.google.com" in a["href"] or "github.com/" in a["href"]]
        assert not found, "Colab or repository links without a configured repository:\n" + "\n".join(found)
        return
    problems = []
    for page in _built():
        links = [a["href"] for a in _soup(page).find_all("a", href=True) if a["href"].startswith(colab)]
        ex = exercise_for(page) if page in chapters() else None
        if ex and not any(h.endswith(f"/exercises/{ex}/{ex}.ipynb") for h in links):
            problems.append(f"{page}: no Colab link to exercises/{ex}/{ex}.ipynb (found {links})")
        problems += [f"{page}: Colab link to a file Colab cannot open: {h}" for h in links if not h.endswith(".ipynb")]
    assert not problems, "\n".join(problems)


def test_no_page_loads_assets_from_the_network():
    """Scripts, styles, images and fonts are local (the browser test checks the requests too)."""
    problems = []
    for html in sorted(HTML.rglob("*.html")):
        if "_static" in html.parts:
            continue
        soup = BeautifulSoup(html.read_text(), "html.parser")
        for tag, attr in (("script", "src"), ("img", "src"), ("link", "href"), ("iframe", "src"),
                          ("source", "src"), ("video", "src"), ("audio", "src")):
            for el in soup.find_all(tag):
                url = el.get(attr) or ""
                if tag == "link" and not set(el.get("rel") or []) & {"stylesheet", "preload", "icon", "modulepreload"}:
                    continue
                if re.match(r"^(https?:)?//", url):
                    problems.append(f"{html.relative_to(HTML)}: <{tag} {attr}={url!r}>")
    assert not problems, "assets from the network:\n  " + "\n  ".join(problems)


def test_citations_and_terms_link_to_the_reference_pages():
    """A chapter that cites links the bibliography; one that uses {term} links the glossary."""
    problems = []
    for page in _built():
        if page not in chapters() or not _written(page):
            continue
        src = (ROOT / f"{page}.md").read_text()
        hrefs = " ".join(a["href"] for a in _article(page).find_all("a", href=True))
        if "{cite" in src and "bibliography.html" not in hrefs:
            problems.append(f"{page}: cites but links no bibliography entry")
        if "{term}" in src and "glossary.html" not in hrefs:
            problems.append(f"{page}: uses {{term}} but links no glossary entry")
    assert not problems, "\n".join(problems)
