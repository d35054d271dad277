"""The course's grading package: test-cell helper, oracles, checkpoint checks, tools.

Importing it (the first cell of every exercise does) records the identity of the
functions tests rely on, so that replacing them later is detected.
"""

from . import integrity
from .cells import run_tests
from .checks import (
    assert_close,
    assert_grad_close,
    assert_shape,
    numerical_gradient,
    rel_error,
)

integrity.snapshot()

__all__ = [
    "run_tests",
    "assert_close",
    "assert_grad_close",
    "assert_shape",
    "numerical_gradient",
    "rel_error",
]
