"""nbgrader wired to the course: solutions/ is the source, exercises/ the release, and
everything a grading run writes (submissions, autograded notebooks, feedback, the gradebook,
exported grades) lives under grading/, which git ignores.

Run nbgrader from the repository root (the README's instructor workflow). The settings
themselves live in rnngrade/course.py (``configure_nbgrader``), which the course's own
tools share.
"""

import os

from rnngrade.course import configure_nbgrader

c = get_config()  # noqa: F821 - provided by nbgrader
configure_nbgrader(c, os.path.dirname(os.path.abspath(__file__)))
