"""The built book, for the tests that read it (a helper module, not a test module): where it
is, which pages the table of contents lists, and the one strict build that
``conftest.book_build`` runs once per test session."""

from __future__ import annotations

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
