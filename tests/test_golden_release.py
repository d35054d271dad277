"""Golden-file test of the release transform (``solutions/`` -> ``exercises/``), after otter's
``test/utils.py``.

``tests/fixtures/golden/source/mini/mini.ipynb`` is a tiny nbgrader source notebook: one
solution cell, one test cell with visible and hidden tests, 20 points. The course's release
pipeline (``rnngrade.release.generate_into``: lint, ``nbgrader generate_assignment`` with the
course's config and header, normalise, leak scan) turns it into a student notebook that must
equal ``tests/fixtures/golden/release/mini/mini.ipynb``, ignoring cell ids and nbgrader
checksums (which change with nbgrader versions, not with what the student sees).

After an intended change to the transform (nbgrader's version, the header template,
``normalise``), regenerate the expected file, read its diff, and commit it with the change:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden_release.py
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import shutil
from pathlib import Path

import nbformat

from rnngrade import release

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
SOURCE = GOLDEN / "source"
EXPECTED = GOLDEN / "release"
ASSIGNMENT = "mini"


def comparable(nb) -> dict:
    """The notebook as a plain dict without cell ids and nbgrader checksums."""
    d = copy.deepcopy(dict(nb))
    for cell in d["cells"]:
        cell.pop("id", None)
        cell.get("metadata", {}).get("nbgrader", {}).pop("checksum", None)
    return json.loads(json.dumps(d, sort_keys=True))


def _lines(nb: dict) -> list[str]:
    """JSON lines for a readable diff, each cell's source one line per source line."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        cell["source"] = cell["source"].split("\n")
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False).splitlines()


def test_release_of_mini_matches_golden_file(tmp_path: Path):
    (produced_dir,) = release.generate_into(tmp_path, [ASSIGNMENT], source=SOURCE)
    produced = produced_dir / f"{ASSIGNMENT}.ipynb"
    expected = EXPECTED / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(produced, expected)
    assert expected.exists(), f"{expected} is missing: run with UPDATE_GOLDEN=1 to create it"
    got = comparable(nbformat.read(produced, as_version=4))
    want = comparable(nbformat.read(expected, as_version=4))
    if got != want:
        diff = "\n".join(difflib.unified_diff(_lines(want), _lines(got), "expected", "produced",
                                              lineterm=""))
        raise AssertionError("the release transform changed; if intended, regenerate with "
                             f"UPDATE_GOLDEN=1 and commit the new file:\n{diff}")


def test_golden_file_is_a_student_version():
    """Guard against regenerating a wrong expected file: stub in, instructor text out."""
    text = (EXPECTED / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "YOUR CODE HERE" in text and "raise NotImplementedError()" in text
    assert "make exercises" in text, "the generated-notebook header is missing"
    assert "test_square_of_a_vector" in text, "the visible test is missing"
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "return np.asarray(x) * np.asarray(x)",
                   "test_square_of_a_matrix_hidden"):
        assert secret not in text, f"{secret!r} reached the golden release"


def test_comparison_ignores_ids_and_checksums_only():
    nb = nbformat.read(SOURCE / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    other = copy.deepcopy(nb)
    for i, cell in enumerate(other.cells):
        cell["id"] = f"other-{i}"
        cell.metadata.setdefault("nbgrader", {})["checksum"] = "0" * 32
    assert comparable(other) == comparable(nb)
    other.cells[-1].source += "\n# edited"
    assert comparable(other) != comparable(nb)
