"""nbgrader wired to the course's folders: solutions/ is the source, exercises/ the release.

Run nbgrader from the repository root (the README's instructor workflow).
Submissions, autograded notebooks, feedback and the gradebook live under grading/
(ignored by git).
"""

import os

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
# Reference checkpoints and caches never reach a release or a student.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
    "*.safetensors", "*.pt", "*.pth", "*.pkl", "t_*.py",
]
c.Execute.timeout = 600
c.ExecutePreprocessor.timeout = 600

from autograder.nbgrader_ext import configure  # noqa: E402

configure(c)
c.IncludeHeaderFooter.header = os.path.join(here, "autograder", "templates", "header.ipynb")
