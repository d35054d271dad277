"""nbgrader wired to the course's folders: solutions/ is the source, exercises/ the release.

Run nbgrader from the repository root (the README's instructor workflow).
Submissions, autograded notebooks, feedback and the gradebook live under grading/
(ignored by git).
"""

import os
import sys

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
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "t_*.py"]
# A reference checkpoint left in solutions/ (by running a solution notebook there) must
# never reach a release; but autograde must copy the students' checkpoints. nbgrader has
# one `ignore` list for both, so the release commands get the longer one.
if any(cmd in sys.argv for cmd in ("generate_assignment", "assign")):
    c.CourseDirectory.ignore += ["*.safetensors", "*.pt", "*.pth", "*.pkl", "*.ckpt"]
c.Execute.timeout = 600
c.ExecutePreprocessor.timeout = 600

from autograder.nbgrader_ext import configure  # noqa: E402

configure(c)
c.IncludeHeaderFooter.header = os.path.join(here, "autograder", "templates", "header.ipynb")
