"""The built book as a reader sees it: every page in headless Chromium, with no network.

Reads the session's one build of the book (``conftest.book_build``, shared by the "book"
xdist group). Screenshots of the
landing page and of the first written chapter go to ``_build/screenshots/`` (CI artifacts).
"""

from pathlib import Path

import pytest

from scripts.cjk_font import font_characters
from tests.book import HTML, ROOT, toc_pages
from tests.browser import crawl, ensure_chromium, first_real_chapter

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]
SHOTS = ROOT / "_build" / "screenshots"
LANDING = f"{toc_pages()[0]}.html"
GLOSSARY = "book/glossary.html"
CJK_FAMILY = "RNN Course CJK"  # book/_static/cjk-font.css's @font-face (scripts/cjk_font.py)


def chapter_for_screenshot() -> str:
    chapters = [p for p in toc_pages()[1:] if Path(p).name.startswith("ch")]
    return f"{first_real_chapter(ROOT, chapters) or chapters[0]}.html"


@pytest.fixture(scope="module")
def report(book_build):
    if not (HTML / LANDING).exists():
        pytest.fail(f"the book is not built: no {HTML / LANDING}")
    if ensure_chromium() is None:
        pytest.fail("Chromium is missing: as root, `apt-get install -y chromium` (Debian package)")
    shots = {LANDING: "landing.png", chapter_for_screenshot(): "chapter.png", GLOSSARY: "glossary.png"}
    for old in SHOTS.glob("*.png"):
        old.unlink()
    return crawl(HTML, landing=LANDING, screenshots=shots, shots_dir=SHOTS, cjk_family=CJK_FAMILY)


def _fmt(items: list[str]) -> str:
    return "\n  " + "\n  ".join(items[:40]) + (f"\n  ... and {len(items) - 40} more" if len(items) > 40 else "")


def test_every_toc_page_was_opened(report):
    missing = [f"{p}.html" for p in toc_pages() if f"{p}.html" not in report.pages]
    assert not missing, f"pages of _toc.yml not in the build: {missing}"


def test_no_javascript_errors(report):
    assert not report.js_errors, "JavaScript errors:" + _fmt(report.js_errors)


def test_no_network_outside_loopback(report):
    assert not report.blocked_requests, (
        "pages tried to fetch from the network (the book must work offline):" + _fmt(report.blocked_requests))


def test_every_resource_loads(report):
    assert not report.failed_requests, "requests that failed on the local server:" + _fmt(report.failed_requests)


def test_math_is_rendered(report):
    assert not report.unrendered_math, "math left unrendered after MathJax ran:" + _fmt(report.unrendered_math)


def test_images_load(report):
    assert not report.broken_images, "broken images (naturalWidth 0):" + _fmt(report.broken_images)


def test_internal_links_resolve(report):
    assert not report.broken_links, "broken internal links:" + _fmt(report.broken_links)


def test_every_page_is_in_the_navigation(report):
    assert not report.missing_from_nav, "pages not reachable from the sidebar:" + _fmt(report.missing_from_nav)


def test_screenshots_saved(report):
    for name in ("landing.png", "chapter.png", "glossary.png"):
        shot = SHOTS / name
        assert shot.exists() and shot.stat().st_size > 10_000, f"no screenshot {shot}"


def test_chinese_is_drawn_with_the_books_own_font(report):
    """The glossary's Chinese, on a machine that may have no CJK font: the page's @font-face
    (not a system font) is loaded and covers the text (document.fonts.check after fonts.ready)."""
    glossary = report.cjk.get(GLOSSARY)
    assert glossary and len(glossary["main"]) > 100, f"no Chinese text found on {GLOSSARY}: {glossary}"
    assert "loaded" in glossary["faces"], f"{CJK_FAMILY!r} is not loaded on {GLOSSARY}: {glossary['faces']}"
    assert glossary["check"] is True, f"document.fonts.check('16px \"{CJK_FAMILY}\"', ...) is false on {GLOSSARY}"
    not_loaded = [p for p, c in report.cjk.items() if c["body"] and not ("loaded" in c["faces"] and c["check"])]
    assert not not_loaded, f"pages with Chinese text not drawn with {CJK_FAMILY!r}:" + _fmt(not_loaded)


def test_every_chinese_character_on_the_pages_is_in_the_shipped_font(report):
    """Also what a page prints from its code (outputs, glued values), which tests/test_cjk_font.py
    cannot see in book/*.md: add such characters to scripts/cjk_font.py's EXTRA."""
    seen = {c for info in report.cjk.values() for c in info["body"]}
    missing = sorted(seen - font_characters())
    assert not missing, (f"characters on the built pages that the shipped font lacks: {''.join(missing)} "
                         "(add them to EXTRA in scripts/cjk_font.py, run `python -m scripts.cjk_font`)")


NAV = '<nav class="bd-docs-nav"><a href="intro.html">Home</a> <a href="faulty.html">Faulty</a> <a href="good.html">Good</a></nav>'
FAULTY = f"""<!doctype html><html><head><title>faulty</title></head><body>{NAV}<main>
<p id="here">Prose with raw $x^2$ math and \\(a_t\\) left over.</p>
<span class="math notranslate nohighlight">\\(W_{{aa}}\\)</span>
<img src="missing.png" alt="missing"> <img src="https://example.com/remote.png" alt="remote">
<a href="nowhere.html">dead</a> <a href="intro.html#no-such-anchor">bad anchor</a> <a href="#here">ok</a>
<script>throw new Error("boom from the faulty page")</script>
<script>console.error("logged error")</script>
</main></body></html>"""


def test_the_checker_catches_each_fault(tmp_path):
    """The crawler itself: a tiny site with one fault of each kind, and one clean page with math."""
    if ensure_chromium() is None:
        pytest.fail("Chromium is missing: as root, `apt-get install -y chromium` (Debian package)")
    book = tmp_path / "html" / "book"
    book.mkdir(parents=True)
    mathjax = HTML / "_static" / "mathjax"
    if mathjax.exists():  # the book's own offline MathJax, as the build serves it
        import shutil

        shutil.copytree(mathjax, tmp_path / "html" / "_static" / "mathjax")
    (book / "intro.html").write_text(f"<!doctype html><html><body>{NAV}<main><h1 id='top'>Intro</h1></main></body></html>")
    (book / "faulty.html").write_text(FAULTY)
    (book / "orphan.html").write_text("<!doctype html><html><body><main>not in the sidebar</main></body></html>")
    (book / "good.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><script defer src='../_static/mathjax/tex-chtml.js'></script></head>"
        f"<body>{NAV}<main><p lang='zh'>术语</p><p>Math: <span class='math notranslate nohighlight'>\\(a^{{\\langle t\\rangle}}"
        f" = \\tanh(W_{{aa}} a^{{\\langle t-1\\rangle}})\\)</span></p></main></body></html>")
    r = crawl(tmp_path / "html", landing="book/intro.html", cjk_family="No Such CJK Font")
    joined = {k: "\n".join(v) for k, v in r.problems().items()}
    assert "boom from the faulty page" in joined.get("js_errors", "")
    assert "logged error" in joined.get("js_errors", "")
    assert "example.com/remote.png" in joined.get("blocked_requests", "")
    assert "missing.png" in joined.get("broken_images", "") and "missing.png" in joined.get("failed_requests", "")
    assert "nowhere.html" in joined.get("broken_links", "")
    assert "no-such-anchor" in joined.get("broken_links", "")
    assert "#here" not in joined.get("broken_links", "")
    assert "W_{aa}" in joined.get("unrendered_math", "") and "raw TeX" in joined.get("unrendered_math", "")
    assert joined.get("missing_from_nav", "").strip() == "book/orphan.html"
    assert r.cjk["book/good.html"]["main"] == "术语" and r.cjk["book/good.html"]["faces"] == []
    if mathjax.exists():
        assert "book/good.html" in r.math_pages
        assert not [p for p in r.unrendered_math if p.startswith("book/good.html")], r.unrendered_math
        for kind in ("js_errors", "failed_requests", "blocked_requests"):
            found = [p for p in getattr(r, kind) if p.startswith("book/good.html")]
            assert not found, f"{kind} on a clean page with math: {found}"
