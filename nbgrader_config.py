"""nbgrader wired to the course's folders: solutions/ is the source, exercises/ the release.

Run nbgrader from the repository root (the README's instructor workflow).
Submissions, autograded notebooks, feedback and the gradebook live under grading/
(ignored by git).
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by nbgrader

here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here
c.CourseDirectory.course_id = "rnn-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "grading", "gradebook.db")
# `nbgrader export` writes grades.csv into the current folder unless told otherwise: student
# grades one `git add .` away from being published. Here they go to grading/ (ignored by git).
c.ExportPlugin.to = os.path.join(here, "grading", "grades.csv")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "t_*.py"]
# A reference checkpoint left in solutions/ (by running a solution notebook there) must never
# replace a student's: `nbgrader autograde` copies the source folder's files over each
# submission, except those listed here (the model files found there). The release tool
# (`make exercises`), `rnn-grade` and a plain `nbgrader generate_assignment`
# (autograder.nbgrader_ext.RefuseReferenceCheckpoints) refuse to run while solutions/ holds one.
from autograder.release import assignments, reference_checkpoints  # noqa: E402

_solutions = Path(here, "solutions")
c.Autograde.exclude_overwriting = {
    name: [str(p.relative_to(_solutions / name)) for p in reference_checkpoints(_solutions / name)]
    for name in assignments(_solutions)
}
c.Execute.timeout = 600
c.ExecutePreprocessor.timeout = 600

from autograder.nbgrader_ext import configure  # noqa: E402

configure(c)
c.IncludeHeaderFooter.header = os.path.join(here, "autograder", "templates", "header.ipynb")
