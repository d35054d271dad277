"""The course's grading package: test-cell helper, oracles, checkpoint checks, tools.

Importing it (the first cell of every exercise does) records the identity of the
functions tests rely on, so that replacing them later is detected.
"""

import gc

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
# What is alive now (torch, numpy, IPython, the course's packages) lives as long as the kernel:
# move it out of the garbage collector's sight. pytest collects garbage after every test
# cell's run (_pytest.unraisableexception), and with torch imported a full collection walks
# about 240,000 objects: 0.13 s, twice per test cell, a quarter of a notebook's grading time.
# No gc.collect() first: in a kernel that imported torch, numpy, matplotlib and pytest it finds
# about ten garbage objects (left frozen: a few kilobytes) and costs 0.12 s in every kernel that
# is not forked from an already frozen parent (rnngrade.zygote freezes its own imports).
gc.freeze()

__all__ = [
    "run_tests",
    "assert_close",
    "assert_grad_close",
    "assert_shape",
    "numerical_gradient",
    "rel_error",
]
