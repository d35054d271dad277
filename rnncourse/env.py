"""Where a notebook is running: a student's session, or nbgrader's grader."""

import os


def is_grading() -> bool:
    """True while nbgrader executes the notebook (``autograde`` or ``validate``).

    Training cells check this and load the saved checkpoint instead of training.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION"))
