"""nbgrader settings shared by the repository's nbgrader_config.py and the batch grader.

Feedback is generated from autograded notebooks, whose test cells hold the hidden
tests again (nbgrader restores them). ``HideHiddenTests`` replaces each hidden block
with a one-line note before the HTML is written, so feedback shows the student's code,
the visible tests and their results, and for hidden tests only the report lines
that ``autograder.run_tests`` printed (name and pass/fail).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader.plugins.export import CsvExportPlugin
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.points import shown

from .course import HIDDEN_BEGIN, HIDDEN_END


def strip_hidden(source: str) -> tuple[str, int]:
    """Source with every hidden-test block replaced by a note; and how many were replaced."""
    out, inside, n = [], False, 0
    for line in source.split("\n"):
        if HIDDEN_BEGIN in line:
            inside, n = True, n + 1
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# (hidden tests: see the report below for their names and results)")
        elif HIDDEN_END in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out), n


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test source from every cell (used by generate_feedback)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.source, _ = strip_hidden(cell.source)
        return cell, resources


DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?!\d)")


def math_to_mathml(markdown: str) -> str:
    """``$...$`` and ``$$...$$`` as MathML, which browsers draw with no script and no network
    (feedback pages are read offline; nbconvert's template loads MathJax from a CDN). TeX that
    the converter cannot read stays as it was."""
    from latex2mathml.converter import convert

    def to(display: str):
        def sub(m: re.Match) -> str:
            try:
                return convert(m.group(1).strip(), display=display)
            except Exception:  # noqa: BLE001 - any TeX it cannot read: leave the source
                return m.group(0)
        return sub

    return INLINE_MATH.sub(to("inline"), DISPLAY_MATH.sub(to("block"), markdown))


class MathAsMathML(NbGraderPreprocessor):
    """Markdown math as MathML (``math_to_mathml``) in the HTML nbgrader makes: feedback pages
    and the formgrader's view of a submission (``configure`` gives it to every HTMLExporter)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = math_to_mathml(cell.source)
        return cell, resources


class RefuseReferenceCheckpoints(NbGraderPreprocessor):
    """``nbgrader generate_assignment`` stops (and removes the half-made release) when the
    assignment's source folder holds a trained model: running a solution notebook in place
    leaves one there, and it must never reach students (``release.reference_checkpoints``).
    The course's own tools refuse the same way before they call nbgrader."""

    def preprocess(self, nb, resources):
        from .release import refuse_reference_checkpoints

        refuse_reference_checkpoints(Path(resources.get("metadata", {}).get("path") or "."))
        return nb, resources


class RoundedCsvExport(CsvExportPlugin):
    """``nbgrader export`` under the course's rounding rule (``autograder/points.py``): the
    scores in the CSV are the ones feedback and formgrader show (10.16, not 10.164286)."""

    SCORES = ("raw_score", "late_submission_penalty", "score", "max_score")

    def export(self, gradebook) -> None:
        super().export(gradebook)
        dest = Path(self.to or "grades.csv")
        with open(dest, newline="") as f:
            rows = list(csv.DictReader(f))
            fields = list(rows[0]) if rows else []
        for row in rows:
            for key in self.SCORES:
                if row.get(key):
                    row[key] = shown(float(row[key]))
        with open(dest, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)


IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt=)", re.IGNORECASE)
FOCUSABLE = re.compile(r'(<div\b[^>]*\bclass="[^"]*\b(?:jp-Cell-inputWrapper|jp-OutputArea-output)\b[^"]*")'
                       r"(?![^>]*\btabindex=)", re.IGNORECASE)
NO_ALT_TEXT = "No description has been provided for this image"


def accessible(html: str) -> str:
    """What nbconvert's HTMLExporter adds to a page after rendering it: an alternative text on
    every image without one, and ``tabindex="0"`` on each cell input and output of the lab
    template (focusable from the keyboard)."""
    return FOCUSABLE.sub(r'\1 tabindex="0"', IMG_WITHOUT_ALT.sub(f'<img alt="{NO_ALT_TEXT}"', html))


class FeedbackHTMLExporter(HTMLExporter):
    """nbconvert's HTMLExporter (7.x), whose page is the same except for how it is written out:
    nbconvert adds its alternative texts and tab stops by parsing the whole rendered page
    with BeautifulSoup and printing it again, about 40 % of the CPU of a feedback page;
    ``accessible`` adds the same attributes with two regular expressions. The rendering
    steps before are nbconvert's own, in its order (``HTMLExporter.from_notebook_node``).
    ``tests/test_feedback_exporter.py`` compares the two pages."""

    def from_notebook_node(self, nb, resources=None, **kw):
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight_code = self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
        resources = self._init_resources(resources)
        filter_data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                                 resources=resources)
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", filter_data_type)
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return accessible(html), resources


def feedback_exporter(c) -> None:
    """Feedback pages written by ``FeedbackHTMLExporter`` (``nbgrader generate_feedback`` and
    rnn-grade's workers)."""
    c.GenerateFeedback.exporter_class = FeedbackHTMLExporter


NBCONVERT_TEMPLATES = Path(__file__).parent / "templates" / "nbconvert"


def offline_html(c) -> None:
    """No MathJax from a CDN in the HTML nbgrader makes (feedback pages; the formgrader's
    submission page, which renders with its own ``HTMLExporter(config=...)``): nbgrader's
    ``feedback`` and ``formgrade`` templates call nbconvert's ``mathjax()`` macro with its
    default CDN address, which offline leaves raw TeX and, online, calls the internet.

    ``HTMLExporter.extra_template_basedirs`` is searched before nbconvert's own template
    folders for every template of the chain (formgrade -> classic -> base), so this folder's
    ``base/mathjax.html.j2`` replaces nbconvert's: its macro loads no script (math is MathML,
    ``MathAsMathML``) and only gives formgrade.js the MathJax startup signal it waits for.
    nbgrader sets this trait only when the config leaves it unset (GenerateFeedback) or
    before it reads the config (the formgrader), so the list names nbgrader's own template
    folder, where ``feedback`` and ``formgrade`` live, too."""
    import nbgrader

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    c.HTMLExporter.extra_template_basedirs = [str(NBCONVERT_TEMPLATES), str(nbgrader_templates)]


def configure(c) -> None:
    """Apply the course's nbgrader settings to a traitlets config object."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import GetGrades

    # Order: grades are read first, then hidden tests are removed, then styled.
    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    # Math as MathML and no CDN script in every HTMLExporter of an nbgrader app: feedback's
    # (these run before the ones above) and the formgrader's, which takes no other preprocessors.
    c.HTMLExporter.preprocessors = [MathAsMathML]
    offline_html(c)
    feedback_exporter(c)
    c.ExportApp.plugin_class = RoundedCsvExport
    c.GenerateAssignment.preprocessors = [RefuseReferenceCheckpoints,
                                          *GenerateAssignment().preprocessors]
