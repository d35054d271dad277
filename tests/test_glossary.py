"""Every chapter links a glossary term at its first use (fast: reads book/*.md, builds nothing).

For each entry of ``book/glossary.md`` (all its names: "gated recurrent unit", "GRU",
"门控循环单元"), the first place a chapter's prose uses one of the entry's English names
(case-insensitive, whole word, a plural "s" allowed) must be a ``{term}`` role to that entry,
or come after one. Prose is what the reader reads as running text: not the front matter, code
cells, code blocks, display math, headings, directive options, inline code, math, or the text
of other roles (``{glue:text}``, ``{download}``...), and not Markdown link targets.

A name that also has an everyday meaning the chapter uses first, in a sense the glossary does
not define, goes in EXCEPTIONS with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.book import prose

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "book" / "glossary.md"
CHAPTERS = sorted((ROOT / "book").glob("ch*.md"))

# (chapter, English name, why that chapter's first use of the word is not the glossary's term).
# The test checks the rest of the entry's names as usual; an entry that is never needed fails.
EXCEPTIONS: list[tuple[str, str, str]] = [
    ("ch07_attention.md", "vocabulary", '"in the vocabulary of the Transformer": its jargon, not a model\'s set of tokens'),
]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TERM_ROLE = re.compile(r"\{term\}`([^`]*)`")
_OTHER_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_CODE = re.compile(r"`[^`]*`")
_MATH = re.compile(r"\$[^$]+\$")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")


def glossary_entries(text: str | None = None) -> list[list[str]]:
    """The names of each entry of the ``{glossary}`` block, in order (English and Chinese)."""
    text = GLOSSARY.read_text(encoding="utf-8") if text is None else text
    block = re.search(r"^```\{glossary\}\n(.*?)^```", text, re.M | re.S).group(1)
    entries, names = [], []
    for line in block.splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if line.startswith((" ", "\t")):  # the definition closes the entry's list of names
            if names:
                entries.append(names)
                names = []
        else:
            names.append(line.strip())
    return entries


def english_names(entry: list[str]) -> list[str]:
    return [n for n in entry if not _CJK.search(n)]


def role_target(body: str) -> str:
    """``{term}`text <target>``` links target; ``{term}`target``` links its own text."""
    m = re.search(r"<([^<>]+)>\s*$", body)
    return (m.group(1) if m else body).strip()


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the running text of a MyST chapter (see the module docstring):
    the prose, less headings, colon fences (their titles), options and comments."""
    return [(number, line) for number, line in prose(text)
            if not (line.strip().startswith(("#", ":::", "<!--")) or re.match(r"^:\w+:", line.strip()))]


def _name_pattern(name: str) -> re.Pattern:
    return re.compile(r"(?<![\w-])" + re.escape(name) + r"(?:s|es)?(?![\w-])", re.I)


def first_uses(text: str, entries: list[list[str]]) -> dict[int, tuple[tuple[int, int], str]]:
    """For each entry index the chapter uses: ((line, column) of its first use, the line)."""
    found: dict[int, tuple[tuple[int, int], str]] = {}
    for number, line in prose_lines(text):
        # Blank what is not read as prose, keeping columns; a term role is a use (and a link).
        clean = _TERM_ROLE.sub(lambda m: "\0" * len(m.group(0)), line)
        for pat in (_OTHER_ROLE, _CODE, _MATH, _LINK_TARGET):
            clean = pat.sub(lambda m: " " * len(m.group(0)), clean)
        for i, entry in enumerate(entries):
            for name in english_names(entry):
                m = _name_pattern(name).search(clean)
                if m and (i not in found or (number, m.start()) < found[i][0]):
                    found[i] = ((number, m.start()), line.strip())
    return found


def first_links(text: str, entries: list[list[str]]) -> dict[int, tuple[int, int]]:
    """For each entry index the chapter links with ``{term}``: (line, column) of its first link."""
    index = {name.lower(): i for i, entry in enumerate(entries) for name in entry}
    found: dict[int, tuple[int, int]] = {}
    for number, line in prose_lines(text):
        for m in _TERM_ROLE.finditer(line):
            i = index.get(role_target(m.group(1)).lower())
            if i is not None and i not in found:
                found[i] = (number, m.start())
    return found


def unlinked_first_uses(text: str, chapter: str, entries: list[list[str]]) -> list[str]:
    excused = {name.lower() for ch, name, _ in EXCEPTIONS if ch == chapter}
    entries = [[n for n in e if n.lower() not in excused] for e in entries]
    uses, links = first_uses(text, entries), first_links(text, entries)
    problems = []
    for i, (where, line) in sorted(uses.items(), key=lambda kv: kv[1][0]):
        if i not in links or links[i] > where:
            problems.append(f"{chapter}:{where[0]}: {entries[i][0]!r} first used here without "
                            f"{{term}}`...`: {line[:110]!r}")
    return problems


def test_the_glossary_is_parsed():
    entries = glossary_entries()
    assert len(entries) >= 50
    assert ["gated recurrent unit", "GRU", "门控循环单元"] in entries
    assert all(any(_CJK.search(n) for n in e) for e in entries), "every entry has a Chinese name"


def test_the_checker_finds_an_unlinked_first_use():
    entries = [["gate", "门"], ["recurrent neural network", "RNN"], ["hidden state", "隐状态"]]
    page = ("# 9. Gates\n\n```{code-cell} ipython3\ngate = 1  # code is not prose\n```\n\n"
            "An RNN keeps a {term}`hidden state`; the `gate` in code is not prose.\n\n"
            "Each {term}`gate <门>` is a vector. Its gates, and the hidden state again.\n")
    problems = unlinked_first_uses(page, "ch09.md", entries)
    assert len(problems) == 1 and "'recurrent neural network'" in problems[0] and "ch09.md:7" in problems[0]
    late = "The gates open.\n\nA {term}`gate` is a vector.\n"
    assert len(unlinked_first_uses(late, "ch09.md", entries)) == 1


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_glossary_terms_are_linked_at_first_use(chapter):
    problems = unlinked_first_uses(chapter.read_text(encoding="utf-8"), chapter.name, glossary_entries())
    assert not problems, ("link each glossary term where the chapter first uses it "
                          "(or add it to EXCEPTIONS with the reason):\n  " + "\n  ".join(problems))


def test_every_exception_is_needed_and_has_a_reason():
    entries = glossary_entries()
    for chapter, name, reason in EXCEPTIONS:
        assert reason.strip(), (chapter, name)
        entry = next(e for e in entries if name in e)
        text = (ROOT / "book" / chapter).read_text(encoding="utf-8")
        uses = first_uses(text, [[name]])
        links = first_links(text, [entry])
        assert uses and (0 not in links or links[0] > uses[0][0]), (
            f"EXCEPTIONS entry not needed any more: {chapter} {name!r}")
