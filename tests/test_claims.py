"""Every number in a chapter's prose is measured by a cell, and every claim about a measurement is checked.

(a) A scanner reads each chapter's prose (markdown outside code cells, fenced blocks, math, inline
    code and roles such as ``{glue:text}``) and flags what looks like a hand-typed *measured* number:
    decimals, percentages, scientific notation, ratios ("3×", "8-fold", "5 times"). Constants the
    text sets or derives (hyper-parameters, the source's probabilities, section numbers) are not
    measured; they pass only through ALLOWED below, each with its reason. Section numbers
    ("§1.3", "## 6.5 ...", "Section 6.5") are never flagged.
(b) ``claim(False, ...)`` raises a ClaimError that quotes the sentence and the measurements, and a
    one-page Jupyter Book whose cell makes a false claim fails to build (slow).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rnncourse.claims import ClaimError, claim
from rnngrade.course import ROOT
from tests.book import prose

CHAPTERS = sorted((ROOT / "book").glob("ch*.md"))

# (chapter, a regular expression for the phrase that holds the number, why it is not a measurement).
# Matches are blanked before scanning (they may span lines); an entry that matches nothing fails.
ALLOWED: list[tuple[str, str, str]] = [
    ("ch02_language_models.md", r"has probability\s+0\.55", "a transition probability of the synthetic source"),
    ("ch02_language_models.md", r"says 0\.3, 0\.2, 0\.3, 0\.2", "the source's probabilities of cat, dog, cats, dogs"),
    ("ch02_language_models.md", r"\(the source: 70%\)", "the source's probability of starting with 'the'"),
    ("ch02_language_models.md", r'"," \(0\.55\) beats "was" \(0\.45\)', "the source's transition probabilities"),
    ("ch03_vanishing_gradients.md", r"radi(us|i) \d\.\d(, \d\.\d)*(\s+and \d\.\d)?",
     "spectral radii the experiments set"),
    ("ch03_vanishing_gradients.md", r"learning rate 0\.(05|2)\b", "a learning rate the experiment sets"),
    ("ch03_vanishing_gradients.md", r"\b(not at|at) 0\.2\b", "a learning rate the experiment sets"),
    ("ch03_vanishing_gradients.md", r"at 1% of the largest entry", "a clipping threshold the text sets"),
    ("ch04_gru.md", r"Chance is 50 %", "chance for two classes"),
    ("ch04_gru.md", r"reaches 99 % on", "the stopping criterion the experiment sets"),
    ("ch05_lstm.md", r"stopping at 99 % validation", "the stopping criterion the experiment sets"),
    ("ch05_lstm.md", r"\(≥ 95 %\)", "the bar the table defines"),
    ("ch07_attention.md", r'\("05\.03\.20"\)', "an example input, a date written day.month.year"),
    ("ch08_pronunciation.md", r"\| about 24\.5 % \|", "a published figure, quoted as Yao and Zweig (2015) report it"),
    ("ch08_pronunciation.md", r"\| about 28 to 29 % \|", "a published figure, quoted as Yao and Zweig (2015) report it"),
    ("ch08_pronunciation.md", r"\| about 23\.5 % \|", "a published figure, quoted as Yao and Zweig (2015) report it"),
    ("ch08_pronunciation.md", r"about 23\.5 %; on another split", "the same published figure, named in the prose"),
]


_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_CODE = re.compile(r"`[^`]*`")
_MATH = re.compile(r"\$[^$]+\$")
_SECTION = re.compile(r"(§\s*|\b[Ss]ections?\s+|^#+\s*)\d+(\.\d+)*")
_MEASURED = re.compile(
    r"(?<![\w.])("
    r"\d[\d,]*\.\d+"                                # a decimal: 0.87, 1,234.5
    r"|\d+(\.\d+)?\s*%"                             # a percentage: 95 %, 36%
    r"|\d+(\.\d+)?\s*(×|x\b|-fold|\s+times\b)"      # a ratio: 3×, 2x, 8-fold, 5 times
    r"|\d+(\.\d+)?[eE][-+]?\d+"                     # scientific notation: 6e-6
    r"|10\s*\^"                                     # 10^-19
    r")"
)


def hand_typed_numbers(text: str, allowed: list[str] = ()) -> list[tuple[int, str, str]]:
    """(line, number, line's text) for each number in the prose that looks measured."""
    text_lines = text.splitlines()
    keep = {number for number, _ in prose(text)}
    for pattern in allowed:  # phrases may span lines: blank them in the whole text
        text = re.sub(pattern, lambda m: re.sub(r"\S", " ", m.group(0)), text)
    hits = []
    for number, line in enumerate(text.splitlines(), 1):
        if number not in keep:
            continue
        clean = _SECTION.sub(" ", _MATH.sub(" ", _CODE.sub(" ", _ROLE.sub(" ", line))))
        for match in _MEASURED.finditer(clean):
            hits.append((number, match.group(1), text_lines[number - 1].strip()))
    return hits


def test_the_scanner_flags_a_hand_typed_measurement():
    page = textwrap.dedent("""\
        # 9. A chapter

        ## 9.1 Results

        ```{code-cell} ipython3
        acc = 0.95  # code is not prose
        ```

        The model reaches 95 % accuracy, its loss is 0.31, and it is 3× faster, with $p = 0.5$.
        """)
    found = [number for _, number, _ in hand_typed_numbers(page)]
    assert found == ["95 %", "0.31", "3×"]


def test_the_scanner_passes_glued_numbers_sections_and_allowed_constants():
    page = textwrap.dedent("""\
        ## 9.1 Results

        See §1.3 and section 6.5. The model reaches {glue:text}`acc:.0%` accuracy at learning rate
        0.05, ratio {glue:text}`ratio:.1f`×.

        $$
        2^{-64} \\approx 5.4 \\cdot 10^{-20}
        $$

        $$a = 0.5,
        \\qquad b = 2.5$$

        Then 1.5.
        """)
    assert [n for _, n, _ in hand_typed_numbers(page)] == ["0.05", "1.5"]
    assert [n for _, n, _ in hand_typed_numbers(page, [r"learning rate\s+0\.05"])] == ["1.5"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_hand_typed_measured_numbers(chapter):
    allowed = [phrase for name, phrase, _ in ALLOWED if name == chapter.name]
    hits = hand_typed_numbers(chapter.read_text(encoding="utf-8"), allowed)
    assert not hits, "hand-typed measured numbers (glue them, or allow them with a reason):\n" + "\n".join(
        f"  {chapter.name}:{line}: {number!r} in {text!r}" for line, number, text in hits
    )


def code_cells(text: str) -> list[tuple[str, str]]:
    """(options, source) of each ``{code-cell}`` of a MyST notebook."""
    cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", text, re.M | re.S)
    out = []
    for body in cells:
        if body.startswith("---\n"):
            options, _, source = body[4:].partition("\n---\n")
        else:
            lines = body.splitlines(keepends=True)
            k = next((i for i, line in enumerate(lines) if not line.startswith(":")), len(lines))
            options, source = "".join(lines[:k]), "".join(lines[k:])
        out.append((options, source))
    return out


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_claims_sit_in_hidden_cells(chapter):
    """A claim() is the page's check, not its content: the reader sees the sentence, not the assert."""
    for options, source in code_cells(chapter.read_text(encoding="utf-8")):
        if re.search(r"^\s*claim\(", source, re.M):
            assert "remove-cell" in options, f"{chapter.name}: claim() in a visible cell:\n{source[:300]}"


def test_every_allowed_phrase_is_used_and_has_a_reason():
    for name, phrase, reason in ALLOWED:
        assert reason.strip(), (name, phrase)
        assert re.search(phrase, (ROOT / "book" / name).read_text(encoding="utf-8")), (
            f"ALLOWED entry no longer in {name}: {phrase!r}"
        )


def test_a_true_claim_passes():
    assert claim(0.99 > 0.95, "the GRU keeps 99 % at distance 64", accuracy=0.99) is True


def test_a_false_claim_raises_with_the_sentence_and_the_measurements():
    with pytest.raises(ClaimError) as error:
        claim(0.36 > 0.9, "the plain model gets single dates almost perfectly", acc_single=0.36, steps=800)
    message = str(error.value)
    assert "the plain model gets single dates almost perfectly" in message
    assert "acc_single = 0.36" in message and "steps = 800" in message
    assert error.value.measured == {"acc_single": 0.36, "steps": 800}
    assert isinstance(error.value, AssertionError)


def test_numpy_booleans_are_claims_too():
    np = pytest.importorskip("numpy")
    with pytest.raises(ClaimError):
        claim(np.float64(0.2) > 0.5, "the ratio is above one half", ratio=np.float64(0.2))


def test_the_book_configuration_stops_on_a_failing_cell():
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+allow_errors:\s*false\s*$", config, re.M)
    assert re.search(r"^\s+raise_on_error:\s*true\s*$", config, re.M)


TINY_PAGE = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page with a {kind} claim

```{{code-cell}} ipython3
:tags: [remove-cell]

from rnncourse.claims import claim
accuracy = 0.36
claim(accuracy {op} 0.9, "single dates are translated almost perfectly", accuracy=accuracy)
```

Measured.
"""


def _build_tiny_book(tmp_path: Path, kind: str, op: str) -> subprocess.CompletedProcess:
    book = tmp_path / kind
    book.mkdir()
    (book / "page.md").write_text(TINY_PAGE.format(kind=kind, op=op), encoding="utf-8")
    (book / "_toc.yml").write_text("format: jb-book\nroot: page\n", encoding="utf-8")
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    execute = re.search(r"^execute:\n(?:[ #].*\n)+", config, re.M).group(0)
    (book / "_config.yml").write_text(f"title: tiny\n{execute}", encoding="utf-8")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    env = {"PATH": f"{jupyter_book.parent}:/usr/bin:/bin", "PYTHONPATH": str(ROOT),
           "HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(jupyter_book), "build", str(book), "--warningiserror"],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_a_false_claim_fails_the_book_build(tmp_path):
    if not Path(sys.executable).with_name("jupyter-book").exists() and not shutil.which("jupyter-book"):
        pytest.skip("jupyter-book is not installed")
    false = _build_tiny_book(tmp_path, "false", ">")
    assert false.returncode != 0
    assert "ClaimError" in false.stdout + false.stderr
    true = _build_tiny_book(tmp_path, "true", "<")
    assert true.returncode == 0, true.stdout[-3000:] + true.stderr[-3000:]


def test_code_cells_reads_both_option_styles():
    page = ("```{code-cell} ipython3\n:tags: [remove-cell]\n\nclaim(True, 'a')\n```\n\n"
            "```{code-cell} ipython3\n---\ntags: [hide-input]\n---\nclaim(True, 'b')\n```\n")
    (hidden, first), (shown, second) = code_cells(page)
    assert "remove-cell" in hidden and "claim(True, 'a')" in first
    assert "remove-cell" not in shown and "claim(True, 'b')" in second
