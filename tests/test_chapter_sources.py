"""The chapters' code reads as the package's documentation does: a course module is imported
under its own name (``from rnncourse.experiments import g2p``, then ``g2p.train_g2p``), never
as a one-letter alias a reader must look up (``as G``)."""

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
COURSE_IMPORT = re.compile(r"^\s*(?:from\s+(rnncourse|autograder|rnngrade)[\w.]*\s+)?import\s+(.+)$")


def aliased_course_modules(text: str) -> list[str]:
    """``module as alias`` pairs of the course's own packages in the code cells of a MyST page."""
    found, in_code = [], False
    for line in text.splitlines():
        if line.startswith("```{code-cell}"):
            in_code = True
            continue
        if in_code and line.startswith("```"):
            in_code = False
            continue
        m = COURSE_IMPORT.match(line) if in_code else None
        if not m or not (m.group(1) or re.match(r"\s*(rnncourse|autograder|rnngrade)\b", m.group(2))):
            continue
        found += [f"{name} as {alias}" for name, alias in re.findall(r"([\w.]+)\s+as\s+(\w+)", m.group(2))]
    return found


def test_the_checker_finds_an_alias():
    page = "```{code-cell} ipython3\nfrom rnncourse.experiments import g2p as G\nimport numpy as np\n```\n"
    assert aliased_course_modules(page) == ["g2p as G"]
    assert aliased_course_modules(page.replace(" as G", "")) == []
    assert aliased_course_modules("```{code-cell}\nimport rnncourse.plotting as rp\n```") == ["rnncourse.plotting as rp"]


@pytest.mark.parametrize("chapter", sorted(p.name for p in BOOK.glob("*.md")))
def test_chapters_import_course_modules_by_their_names(chapter):
    assert aliased_course_modules((BOOK / chapter).read_text()) == []
