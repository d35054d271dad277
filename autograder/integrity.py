"""Detect run-time replacement of the functions that tests rely on.

At import (the first, locked cell of every exercise) we record the identity of the
functions a cheating submission would replace to fake passes; ``tampering_notes``
lists the ones that no longer match. The batch grader adds a static scan of the
submission's source on top (see ``autograder.batch``).
"""

from __future__ import annotations

import importlib

# module -> attribute names whose identity must not change during a notebook run
WATCHED: dict[str, tuple[str, ...]] = {
    "numpy": ("allclose", "isclose", "array_equal", "testing", "abs", "max", "all", "any"),
    "numpy.testing": ("assert_allclose", "assert_array_equal"),
    "torch": ("allclose", "isclose", "equal", "testing", "abs", "max", "all"),
    "torch.testing": ("assert_close",),
    "pytest": ("main", "approx", "raises", "fail", "skip"),
    "ipytest": ("run",),
    "builtins": ("abs", "max", "min", "all", "any", "isinstance", "len", "float", "round"),
}

_SNAPSHOT: dict[tuple[str, str], object] = {}


def _watched_objects():
    for mod_name, attrs in WATCHED.items():
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        for attr in attrs:
            if hasattr(mod, attr):
                yield mod_name, attr, getattr(mod, attr)


def snapshot() -> None:
    """Record the current identities (called once, when autograder is imported)."""
    for mod_name, attr, obj in _watched_objects():
        _SNAPSHOT.setdefault((mod_name, attr), obj)


def tampering_notes() -> list[str]:
    """One line per watched function that was replaced since the snapshot."""
    notes = []
    for mod_name, attr, obj in _watched_objects():
        ref = _SNAPSHOT.get((mod_name, attr), obj)
        if ref is not obj:
            notes.append(f"TAMPERING: {mod_name}.{attr} was replaced during the run")
    return notes
