"""An honest notebook raises no static review flag, in any exercise.

rnn-grade reads every cell a student could have written for code that patches what the tests rely
on (``rnngrade.worker.static_flags``, with what ``rnngrade.batch.notebook_kit`` says the course's
locked cells protect). Here, for every exercise and without grading anything: the untouched
release, the solution, each correct alternative and each declared wrong variant (an honest
mistake) are scanned as the grader scans them, and none may be flagged; a patch added to the
solution must be. (tests/test_batch_exercises.py grades a few of these through the sandbox; the
red-team class, tests/test_batch_redteam.py, the attacks.)
"""

from __future__ import annotations

import nbformat
import pytest

from rnngrade import batch, worker
from rnngrade.release import SOLUTIONS, assignments
from tests import harness

PATCH = "\nimport numpy as np\nnp.allclose = lambda *a, **k: True\n"  # the red-team's patch_numpy


def _kit(assignment: str) -> dict:
    nb = nbformat.read(SOLUTIONS / assignment / harness.notebook_name(assignment), as_version=4)
    return batch.notebook_kit(nb)


@pytest.mark.parametrize("assignment", assignments())
def test_honest_notebooks_raise_no_static_flag(assignment):
    kit = _kit(assignment)
    flagged = {who: [str(f) for f in worker.static_flags(nb, kit)]
               for who, (nb, _) in harness.handed_in(assignment).items()}  # what tests/test_exercises.py grades
    assert len(flagged) >= 3, f"{assignment}: release, solution and at least one variant expected"
    flagged = {who: found for who, found in flagged.items() if found}
    assert not flagged, f"{assignment}: honest notebooks flagged: {flagged}"


@pytest.mark.parametrize("assignment", assignments())
def test_a_patch_in_an_answer_cell_is_flagged(assignment):
    """The scan above is not blind: the same notebook with numpy's comparison replaced is flagged."""
    kit = _kit(assignment)
    nb = harness.make_submission(assignment)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                  and c.cell_type == "code")
    answer.source += PATCH
    assert worker.static_flags(nb, kit), f"{assignment}: np.allclose replaced in an answer cell, not flagged"
