"""Claims about measured results, checked while a chapter executes.

A sentence of the book such as "the keep-initialised GRU learns every distance" is only true for the
numbers the page measured. Each such sentence has a hidden cell beside it (tag ``remove-cell``) that
states it as a condition on those numbers::

    claim(acc_keep >= 0.95, "the GRU whose update gate starts at keep learns every distance",
          acc_keep=acc_keep)

If a change of data, seed or code makes the sentence false, the cell raises :class:`ClaimError`, the
chapter's execution fails, and so does the book build (``_config.yml`` sets ``raise_on_error``).
The error quotes the sentence and the measured values, so the author knows what to rewrite.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClaimError", "claim"]


class ClaimError(AssertionError):
    """A sentence of the book is contradicted by what the page measured."""

    def __init__(self, sentence: str, measured: dict[str, Any]):
        self.sentence = sentence
        self.measured = dict(measured)
        shown = ", ".join(f"{name} = {_show(value)}" for name, value in self.measured.items())
        message = f"the page's measurements contradict the sentence {sentence!r}"
        if shown:
            message += f"; measured: {shown}"
        super().__init__(message)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    try:  # numpy and torch scalars
        return f"{float(value):.4g}" if getattr(value, "ndim", 1) == 0 else repr(value)
    except (TypeError, ValueError):
        return repr(value)


def claim(condition: Any, sentence: str, **measured: Any) -> bool:
    """Check that ``sentence`` holds for the measured values; raise :class:`ClaimError` if not.

    ``condition`` is the sentence written as a test on the numbers (a numpy or torch boolean is
    fine); ``measured`` are the numbers it is about, quoted in the error. Returns True, so that a
    cell can also glue or print the outcome.
    """
    if not bool(condition):
        raise ClaimError(sentence, measured)
    return True
