"""Open every page of the built book in headless Chromium, offline, and list what is wrong.

Used by ``tests/test_browser.py``. The book is served from ``_build/html`` by Python's
``http.server`` on 127.0.0.1 (in a thread); Chromium (Debian's ``/usr/bin/chromium``,
driven by Playwright over the DevTools protocol; Playwright never downloads a browser
here) runs with a fresh profile and every non-loopback request blocked twice: by the
host-resolver rules and by a request route that aborts and records it.

``crawl(html_dir)`` visits each page and returns a ``Report`` with one list per kind of
problem: JavaScript errors, failed or blocked requests, unrendered math, broken images,
broken internal links, pages missing from the navigation. Each entry names its page.
With ``cjk_family`` it also records, for each page, the CJK characters the reader sees and
whether that web font (the page's own ``@font-face``) is loaded and draws them (``Report.cjk``).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Folders of the build that hold assets, not pages.
ASSET_DIRS = ("_static", "_sources", "_images", "_downloads", "_sphinx_design_static")
# Pages Sphinx makes that are not part of the book's navigation by design.
NOT_IN_NAV = {"index.html", "genindex.html", "search.html", "py-modindex.html"}
SIDEBAR_LINKS = "nav.bd-docs-nav a[href]"
LOOPBACK = {"127.0.0.1", "localhost"}

# Runs in each page after it loaded and MathJax (if any) finished typesetting.
PAGE_PROBE = r"""
async () => {
  const imgs = [...document.images];
  for (const img of imgs) { img.loading = "eager"; }
  await Promise.all(imgs.map(img => img.decode().catch(() => null)));

  const skip = "pre, code, script, style, textarea, mjx-container, .highlight, .MathJax";
  const root = document.querySelector("main") || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      const p = node.parentElement;
      return (!p || p.closest(skip)) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
    }
  });
  const raw = [];
  const patterns = [/\$\$[\s\S]+?\$\$/, /(^|[^\\$])\$[^$\s][^$\n]*?\$/, /\\\(/, /\\\[/, /\\begin\{/];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent;
    for (const pat of patterns) {
      const m = text.match(pat);
      if (m) { raw.push(text.trim().slice(0, 120)); break; }
    }
  }
  const mathEls = [...document.querySelectorAll("span.math, div.math")];
  return {
    ids: [...document.querySelectorAll("[id], a[name]")].map(e => e.id || e.getAttribute("name")),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    sidebar: [...document.querySelectorAll("SIDEBAR")].map(a => a.href),
    images: imgs.map(i => ({src: i.currentSrc || i.src, complete: i.complete, width: i.naturalWidth})),
    mathCount: mathEls.length,
    unrenderedMath: mathEls.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.trim().slice(0, 120)),
    rawMath: raw,
    mathjax: !!(window.MathJax && window.MathJax.startup),
    rendered: document.querySelectorAll("mjx-container").length,
  };
}
""".replace("SIDEBAR", SIDEBAR_LINKS)

# Runs after document.fonts.ready: the CJK text of the page (main content and the whole body, e.g.
# the sidebar), the faces of the family FAMILY and their status, and document.fonts.check().
CJK_PROBE = r"""
async (family) => {
  await document.fonts.ready;
  const cjk = /[\u2e80-\u2fff\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]/g;
  const chars = el => [...new Set(((el && el.innerText) || "").match(cjk) || [])].join("");
  const body = chars(document.body);
  const faces = [...document.fonts].filter(f => f.family.replace(/^["']|["']$/g, "") === family);
  return {
    main: chars(document.querySelector("main") || document.body),
    body: body,
    faces: faces.map(f => f.status),
    check: body ? document.fonts.check(`16px "${family}"`, body) : null,
  };
}
"""

WAIT_FOR_MATHJAX = """
async () => {
  if (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)) return false;
  await window.MathJax.startup.promise;
  return true;
}
"""


@dataclass
class Report:
    pages: list[str] = field(default_factory=list)
    js_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    unrendered_math: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    missing_from_nav: list[str] = field(default_factory=list)
    math_pages: list[str] = field(default_factory=list)
    cjk: dict[str, dict] = field(default_factory=dict)  # page -> CJK_PROBE's answer (with cjk_family)

    PROBLEMS = ("js_errors", "failed_requests", "blocked_requests", "unrendered_math",
                "broken_images", "broken_links", "missing_from_nav")

    def problems(self) -> dict[str, list[str]]:
        return {k: getattr(self, k) for k in self.PROBLEMS if getattr(self, k)}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class BookServer:
    """``with BookServer(html_dir) as base_url:`` serves the folder on 127.0.0.1."""

    def __init__(self, root: Path):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def ensure_chromium() -> str | None:
    """Path of Chromium, installing Debian's package first when absent and we are root.

    Returns None (with the reason printed) when it cannot be had."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
            if proc.returncode != 0:
                print(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
                return None
    return CHROMIUM if Path(CHROMIUM).exists() else None


def book_pages(html_dir: Path) -> list[str]:
    """Every HTML page of the build, as paths relative to ``html_dir`` (posix)."""
    pages = []
    for p in sorted(html_dir.rglob("*.html")):
        rel = p.relative_to(html_dir)
        if rel.parts[0] in ASSET_DIRS or rel.parts[0].startswith("."):
            continue
        pages.append(rel.as_posix())
    return pages


def _local_path(url: str, base: str) -> str | None:
    """The path below the server root that ``url`` names, or None if it is not ours."""
    if not url.startswith(base):
        return None
    path = unquote(urlsplit(url).path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path


def crawl(html_dir: Path, *, landing: str = "book/intro.html", screenshots: dict[str, str] | None = None,
          shots_dir: Path | None = None, timeout_ms: int = 60_000, cjk_family: str | None = None) -> Report:
    """Visit every page of ``html_dir`` in Chromium; see the module docstring.

    ``screenshots`` maps a page (relative path) to a PNG file name written into ``shots_dir``.
    ``cjk_family``: a font family the pages declare for CJK text (see ``Report.cjk``).
    """
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir)
    report = Report(pages=book_pages(html_dir))
    screenshots = screenshots or {}
    ids: dict[str, set[str]] = {}
    links: dict[str, list[str]] = {}
    sidebar: dict[str, list[str]] = {}

    with BookServer(html_dir) as base, sync_playwright() as pw, \
            tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000}, service_workers="block")
        current = {"page": ""}

        def route(route_, request):
            host = urlsplit(request.url).hostname
            if request.url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
                route_.continue_()
            else:
                report.blocked_requests.append(f"{current['page']}: {request.url}")
                route_.abort("blockedbyclient")

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and report.js_errors.append(
            f"{current['page']}: console.error: {m.text}"))
        page.on("pageerror", lambda e: report.js_errors.append(f"{current['page']}: exception: {e}"))
        aborted: list[tuple[str, str]] = []

        def failed(r) -> None:
            if urlsplit(r.url).hostname not in LOOPBACK:
                return
            if r.failure == "net::ERR_ABORTED":  # cancelled by the browser (e.g. leaving the page
                aborted.append((current["page"], r.url))  # mid-download): fetched again below
            else:
                report.failed_requests.append(f"{current['page']}: {r.url} ({r.failure})")

        page.on("requestfailed", failed)
        page.on("response", lambda r: r.status >= 400 and report.failed_requests.append(
            f"{current['page']}: {r.url} (HTTP {r.status})"))

        for rel in report.pages:
            current["page"] = rel
            page.goto(base + rel, wait_until="load", timeout=timeout_ms)
            if rel == "index.html":  # Jupyter Book's redirect to the landing page
                page.wait_for_url(lambda u: not u.endswith("/index.html"), timeout=timeout_ms)
                page.wait_for_load_state("load")
                if not page.url.endswith("/" + landing):
                    report.broken_links.append(f"index.html redirects to {page.url}, not {landing}")
                continue
            page.evaluate(WAIT_FOR_MATHJAX)
            page.evaluate("document.fonts.ready.then(() => true)")
            info = page.evaluate(PAGE_PROBE)
            if cjk_family:
                report.cjk[rel] = page.evaluate(CJK_PROBE, cjk_family)
            ids[rel] = set(info["ids"])
            links[rel] = info["links"]
            sidebar[rel] = info["sidebar"]
            if info["mathCount"]:
                report.math_pages.append(rel)
                if not info["mathjax"]:
                    report.unrendered_math.append(f"{rel}: {info['mathCount']} math elements but no MathJax")
            report.unrendered_math += [f"{rel}: not typeset: {t!r}" for t in info["unrenderedMath"]]
            report.unrendered_math += [f"{rel}: raw TeX in text: {t!r}" for t in info["rawMath"]]
            report.broken_images += [f"{rel}: {i['src']}" for i in info["images"]
                                     if not i["complete"] or i["width"] == 0]
            if rel in screenshots and shots_dir is not None:
                _screenshots(page, shots_dir, screenshots[rel])
        # A request the browser cancelled is not a missing file; one the server cannot serve is.
        for rel, url in aborted:
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    r.read()
            except (urllib.error.URLError, OSError) as e:
                report.failed_requests.append(f"{rel}: {url} (ERR_ABORTED, then {e})")
        context.close()

    # Internal links: the file must exist; an anchor must exist in the page it names.
    for rel, hrefs in links.items():
        for href in hrefs:
            url, frag = urldefrag(href)
            target = _local_path(url, base)
            if target is None:
                continue
            if not (html_dir / target).is_file():
                report.broken_links.append(f"{rel}: {href} (no file {target})")
            elif frag and target in ids and unquote(frag) not in ids[target]:
                report.broken_links.append(f"{rel}: {href} (no anchor #{frag} in {target})")

    # Navigation: every page is reachable from the landing page through sidebars.
    reachable, todo = {landing}, [landing]
    while todo:
        for href in sidebar.get(todo.pop(), []):
            target = _local_path(urldefrag(href)[0], base)
            if target and target not in reachable:
                reachable.add(target)
                todo.append(target)
    report.missing_from_nav = [p for p in report.pages if p not in reachable and p not in NOT_IN_NAV]
    if landing not in report.pages:
        report.missing_from_nav.append(f"the landing page {landing} was not built")
    return report


def _screenshots(page, shots_dir: Path, name: str, max_height: int = 3000) -> None:
    """``name``: the page from the top (whole, or its first ``max_height`` pixels: a long
    chapter would shrink to an unreadable strip); ``<stem>-figure.png``: its first figure."""
    shots_dir.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    if height <= max_height:
        page.screenshot(path=str(shots_dir / name), full_page=True)
    else:
        page.screenshot(path=str(shots_dir / name), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": max_height})
    figure = page.locator("figure:has(img)").first
    if page.locator("figure:has(img)").count():
        figure.scroll_into_view_if_needed()
        figure.screenshot(path=str(shots_dir / f"{Path(name).stem}-figure.png"))


def first_real_chapter(root: Path, toc_pages: list[str]) -> str | None:
    """The first chapter in the table of contents that is written (has a code cell)."""
    for page in toc_pages:
        src = root / f"{page}.md"
        if re.search(r"^# \d+\.", src.read_text(), flags=re.M) and "{code-cell}" in src.read_text():
            return page
    return None


def download_link(html_file: Path, href_suffix: str, timeout_ms: int = 60_000) -> tuple[str, bytes]:
    """Open ``html_file`` from disk (``file://``, as a student opens the bundle's book), click
    its first link whose href ends with ``href_suffix`` and return the download (its suggested
    name and bytes). Fails if the click does not download (e.g. it shows the file instead)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, accept_downloads=True)
        try:
            page = context.new_page()
            page.goto(Path(html_file).resolve().as_uri(), wait_until="load", timeout=timeout_ms)
            with page.expect_download(timeout=timeout_ms) as info:
                page.locator(f'a[href$="{href_suffix}"]').first.click()
            download = info.value
            return download.suggested_filename, Path(download.path()).read_bytes()
        finally:
            context.close()


@dataclass
class Visit:
    """One page as ``visit`` saw it: its HTML after load, its text, and what went wrong."""
    html: str
    text: str
    blocked_requests: list[str]
    failed_requests: list[str]
    js_errors: list[str]
    probe: object = None


def visit(url: str, *, probe: str | None = None, timeout_ms: int = 30_000) -> Visit:
    """Open ``url`` (on 127.0.0.1) in Chromium with every non-loopback request blocked (as
    ``crawl`` does) and return what the reader got once the page and its requests settled;
    ``probe``: a JavaScript function run in the page then (its answer is ``Visit.probe``)."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, service_workers="block")
        try:
            def route(route_, request):
                if request.url.startswith(("data:", "blob:", "about:")) or urlsplit(request.url).hostname in LOOPBACK:
                    route_.continue_()
                else:
                    blocked.append(request.url)
                    route_.abort("blockedbyclient")

            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(f"console.error: {m.text}"))
            page.on("pageerror", lambda e: errors.append(f"exception: {e}"))
            page.on("requestfailed", lambda r: urlsplit(r.url).hostname in LOOPBACK
                    and failed.append(f"{r.url} ({r.failure})"))
            page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} (HTTP {r.status})"))
            page.goto(url, wait_until="networkidle", timeout=timeout_ms)
            answer = page.evaluate(probe) if probe else None
            return Visit(page.content(), page.evaluate("document.body.innerText"), blocked, failed, errors, answer)
        finally:
            context.close()
