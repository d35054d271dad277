"""The built book, for the tests that read it (a helper module, not a test module): where it
is, which pages the table of contents lists, and the one strict build that
``conftest.book_build`` runs once per test session."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from rnngrade.course import ROOT

HTML = ROOT / "_build" / "html"


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part["chapters"]]
    return pages


def build_book() -> subprocess.CompletedProcess:
    """`make book`'s command: chapters executed, warnings are errors, every page attempted."""
    jb = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run([str(jb), "build", str(ROOT), "--warningiserror", "--nitpick", "--keep-going"],
                          cwd=ROOT, capture_output=True, text=True, timeout=3000)


def execution_reports(limit: int = 8000) -> str:
    """The tracebacks of chapters whose cells failed in the last build (myst-nb writes one
    ``_build/html/reports/<chapter>.err.log`` each): what the tail of the build log cuts off."""
    logs = sorted((ROOT / "_build" / "html" / "reports").rglob("*.log"))
    text = "\n".join(f"--- {p.relative_to(ROOT)}\n{p.read_text(errors='replace')}" for p in logs)
    return text[:limit]


def prose(text: str) -> list[tuple[int, str]]:
    """(line number, line) of a MyST chapter's prose: no front matter, code cells, fenced
    blocks or display math (tests/test_claims.py and tests/test_glossary.py read it)."""
    lines = text.splitlines()
    start = 0
    if lines and lines[0].strip() == "---":
        start = next(i for i in range(1, len(lines)) if lines[i].strip() == "---") + 1
    out, fence, in_math = [], None, False
    for number, line in enumerate(lines[start:], start + 1):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            continue
        opened = re.match(r"^(`{3,}|~{3,})", stripped)
        if opened:
            fence = opened.group(1)
            continue
        if in_math:
            in_math = "$$" not in stripped
            continue
        if stripped.startswith("$$"):
            in_math = not (len(stripped) > 4 and stripped.endswith("$$"))
            continue
        out.append((number, line))
    return out
