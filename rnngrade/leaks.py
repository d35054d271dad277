"""Find solution or hidden-test text where it must not be: releases, HTML, feedback.

A *secret line* is a line of a solution notebook that lies inside a
``BEGIN SOLUTION``/``END SOLUTION`` or ``BEGIN HIDDEN TESTS``/``END HIDDEN TESTS``
block and never occurs outside such blocks (so shared boilerplate such as
``return a`` is not a secret). Short lines are ignored: they cannot identify a
solution and would match ordinary prose.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

from .course import HIDDEN_BEGIN, HIDDEN_END, MARKERS, SOLUTION_BEGIN, SOLUTION_END

MIN_CHARS = 24  # a normalised line shorter than this is not distinctive enough to count
_BLOCKS = ((SOLUTION_BEGIN, SOLUTION_END), (HIDDEN_BEGIN, HIDDEN_END))


def normalise(line: str) -> str:
    return " ".join(line.split())


def split_secret(source: str) -> tuple[list[str], list[str]]:
    """(lines inside secret blocks, lines outside) of one cell's source."""
    inside, outside, depth = [], [], 0
    for line in source.splitlines():
        if any(b in line for b, _ in _BLOCKS):
            depth += 1
            continue
        if any(e in line for _, e in _BLOCKS):
            depth = max(0, depth - 1)
            continue
        (inside if depth else outside).append(line)
    return inside, outside


def secret_lines(solutions: Path) -> set[str]:
    """Distinctive normalised lines that only the instructor's notebooks contain."""
    inside, outside = set(), set()
    for nb_path in sorted(solutions.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in nb_path.parts:
            continue
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            i, o = split_secret(cell.source)
            inside.update(normalise(x) for x in i)
            outside.update(normalise(x) for x in o)
    return {x for x in inside - outside if len(x) >= MIN_CHARS and not x.startswith("#")}


def scan_text(text: str, secrets: set[str]) -> list[str]:
    """Secret lines and markers that occur in ``text`` (compared line by line, normalised)."""
    found = [m for m in MARKERS if m in text]
    lines = {normalise(x) for x in text.splitlines()}
    found += sorted(s for s in secrets if s in lines)
    return found


def html_to_text(page: str) -> str:
    """Visible text of an HTML page, one source line per line (code blocks keep their lines)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def scan_notebook(path: Path, secrets: set[str]) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            parts.extend(str(v) for v in out.get("data", {}).values())
    return scan_text("\n".join(parts), secrets)


def scan_path(path: Path, secrets: set[str]) -> dict[str, list[str]]:
    """Leaks in every notebook, HTML, markdown, Python or text file under ``path``."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    report = {}
    for f in files:
        if f.suffix == ".ipynb":
            found = scan_notebook(f, secrets)
        elif f.suffix in (".html", ".htm"):
            found = scan_text(html_to_text(f.read_text(errors="replace")), secrets)
        elif f.suffix in (".md", ".py", ".txt", ".json", ".js", ".csv"):
            found = scan_text(f.read_text(errors="replace"), secrets)
        else:
            continue
        if found:
            report[str(f)] = found
    return report


ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TRACE_PREFIX = re.compile(r"^\s*(?:-*>\s*\d+|\d+|>|E)\s+")  # a traceback's line-number or pytest prefix


def shows_secret(line: str, secrets) -> bool:
    """Does an output ``line`` show a secret line (whole, or behind a traceback prefix) or a marker?"""
    plain = ANSI_RE.sub("", line)
    if any(m in plain for m in MARKERS):
        return True
    return normalise(plain) in secrets or normalise(TRACE_PREFIX.sub("", plain, count=1)) in secrets
