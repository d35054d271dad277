"""rnngrade.nbgrader_ext.FeedbackHTMLExporter writes the page nbconvert's HTMLExporter writes.

The two differ only in how the alternative texts and tab stops are added (a BeautifulSoup
round trip against two regular expressions), so reading the fast page back through the same
BeautifulSoup round trip must give nbconvert's page exactly, for the feedback template that
nbgrader uses and for the lab template (the one with tab stops).
"""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from rnngrade import nbgrader_ext, sandbox, worker

# a 1x1 PNG
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000 1f15c4890000000d49444154789c6360f8cf"
    "c0f01f0005000200fd4a2b1a0000000049454e44ae426082".replace(" ", ""))).decode()


def _notebook() -> nbformat.NotebookNode:
    nb = new_notebook(metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}})
    nb.cells = [
        new_markdown_cell("# Feedback\n\nThe loss is $-\\log p$; a picture with its own text: "
                          f"![a chart](data:image/png;base64,{PIXEL})"),
        new_code_cell("def f(x):\n    return x ** 2  # <img> in a comment\n\nf(3)", execution_count=1,
                      outputs=[new_output("execute_result", {"text/plain": "9"}, execution_count=1)]),
        new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2])", execution_count=2,
                      outputs=[new_output("display_data", {"image/png": PIXEL, "text/plain": "<Figure>"}),
                               new_output("stream", name="stdout", text="<b>not a tag</b> & more\n")]),
        new_code_cell("1 / 0", execution_count=3, outputs=[new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero",
            traceback=["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"])]),
    ]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    nb.cells[1].metadata.nbgrader = {"grade": True, "solution": False, "grade_id": "test_f", "points": 2,
                                     "score": 1.5, "comment": "<i>almost</i>"}
    return nb


RESOURCES = {"nbgrader": {"notebook": "ex00", "score": 1.5, "max_score": 2, "late_penalty": 0}}


def _config(template: str) -> Config:
    """The configuration ``nbgrader generate_feedback`` renders with (its template folders too)."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    c = Config()
    nbgrader_ext.configure(c)
    if template != "feedback":
        c.HTMLExporter.template_name = template
    return GenerateFeedback(coursedir=CourseDirectory(config=c), config=c).config


@pytest.mark.parametrize("template", ["feedback", "lab"])
def test_the_fast_page_is_nbconverts_page(template):
    nb = _notebook()
    theirs, _ = HTMLExporter(config=_config(template)).from_notebook_node(nb, dict(RESOURCES))
    ours, _ = nbgrader_ext.FeedbackHTMLExporter(config=_config(template)).from_notebook_node(nb, dict(RESOURCES))
    assert ours != theirs  # not merely the same code path
    assert str(BeautifulSoup(ours, features="html.parser")) == theirs
    soup = BeautifulSoup(ours, features="html.parser")
    alts = [img.get("alt") for img in soup.find_all("img")]
    assert alts and all(alts), alts
    assert "a chart" in alts and nbgrader_ext.NO_ALT_TEXT in alts
    if template == "lab":
        focusable = soup.select(".jp-Notebook div.jp-Cell-inputWrapper, .jp-Notebook div.jp-OutputArea-output")
        assert focusable and all(el.get("tabindex") == "0" for el in focusable)


def test_nbgrader_and_rnn_grade_write_feedback_with_it():
    c = Config()
    nbgrader_ext.configure(c)
    assert c.GenerateFeedback.exporter_class is nbgrader_ext.FeedbackHTMLExporter
    c = worker._nbgrader_config(Path("/nonexistent"), {"course_id": "c"}, sandbox.Limits())
    assert c.GenerateFeedback.exporter_class is nbgrader_ext.FeedbackHTMLExporter
