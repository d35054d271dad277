"""Reusable checks for test cells: shapes, closeness, gradients, with helpful messages.

Every failure says what was expected, what came back, and a hint (docs/exercises.md, "Checks and their messages").
Inputs may be numpy arrays, torch tensors or Python numbers; comparisons are in
float64 so that a student's float32 answer is judged by the tolerance, not the type.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

# Each assertion helper first raises the audit event ``autograder.check``. In the grader's
# scoring run (``rnngrade.cleanroom``) the test process's audit hook then checks that no
# library function or helper has been replaced, at the moment the comparison is made; anywhere
# else the event is a no-op. The hook is reached through a keyword default (``_audit``): the
# scoring run forbids reading or changing the defaults of the grader's functions.


def as_numpy(x) -> np.ndarray:
    """float64 numpy copy of an array, tensor (any device, with grad) or number."""
    if hasattr(x, "detach"):  # torch.Tensor without importing torch
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def rel_error(a, b) -> float:
    """max |a - b| / max(1e-8, |a| + |b|), elementwise, as in docs/exercises.md."""
    a, b = as_numpy(a), as_numpy(b)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


def _preview(x: np.ndarray, n: int = 4) -> str:
    flat = np.asarray(x).ravel()
    body = np.array2string(flat[:n], precision=5, separator=", ")
    return body[:-1] + (", ...]" if flat.size > n else "]")


def assert_shape(got, expected: tuple, name: str, hint: str = "", *, _audit=sys.audit) -> None:
    """Fail with a message naming the shapes (and a hint) unless ``got.shape == expected``."""
    _audit("autograder.check")
    shape = tuple(getattr(got, "shape", np.shape(got)))
    if shape != tuple(expected):
        msg = f"{name} has shape {shape}, expected {tuple(expected)}."
        if not hint and sorted(shape) == sorted(expected):
            hint = "the sizes are right but in the wrong order: a missing transpose?"
        raise AssertionError(msg + (f" Hint: {hint}" if hint else ""))


def assert_close(
    got,
    expected,
    name: str,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str = "",
    diagnoses: dict | None = None,
    _audit=sys.audit,
) -> None:
    """Fail unless ``got`` matches ``expected`` (shape first, then values).

    ``diagnoses`` maps a hint to the value a typical mistake produces (e.g.
    ``{"did you forget the bias ba?": reference_without_bias}``); when ``got``
    matches one of them, that hint replaces the generic one.
    """
    _audit("autograder.check")
    if got is None:
        raise AssertionError(f"{name} is None, expected an array of shape {np.shape(expected)}. "
                             "Hint: did you forget a `return`?")
    exp = as_numpy(expected)
    assert_shape(got, exp.shape, name, hint)
    g = as_numpy(got)
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(exp)):
        raise AssertionError(f"{name} contains NaN or inf, expected finite values {_preview(exp)}."
                             + (f" Hint: {hint}" if hint else ""))
    if not np.allclose(g, exp, rtol=rtol, atol=atol):
        for mistake_hint, wrong in (diagnoses or {}).items():
            w = as_numpy(wrong)
            if w.shape == g.shape and np.allclose(g, w, rtol=rtol, atol=atol):
                hint = mistake_hint
                break
        diff = np.abs(g - exp)
        where = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        raise AssertionError(
            f"{name} differs from the reference: max |got - expected| = {diff.max():.3g} "
            f"at index {tuple(int(i) for i in where)} (tolerance rtol={rtol:g}, atol={atol:g}).\n"
            f"expected {_preview(exp)}\n"
            f"got      {_preview(g)}"
            + (f"\nHint: {hint}" if hint else "")
        )


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centred finite differences of the scalar ``f()`` with respect to ``x`` (changed in place).

    ``x`` must be a float64 array that ``f`` reads; it is restored after each probe.
    """
    if x.dtype != np.float64:
        raise TypeError("numerical_gradient needs a float64 array (finite differences in float32 are noise)")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def assert_grad_close(got, numeric, name: str, *, tol: float = 1e-6, hint: str = "",
                      _audit=sys.audit) -> None:
    """Fail unless an analytic gradient matches a finite-difference one (relative error < tol)."""
    _audit("autograder.check")
    if got is None:
        raise AssertionError(f"gradient {name} is None. Hint: is it stored in the returned dict?")
    assert_shape(got, np.shape(numeric), f"gradient {name}", hint)
    err = rel_error(got, numeric)
    if not err < tol:
        g, n = as_numpy(got), as_numpy(numeric)
        raise AssertionError(
            f"gradient {name}: relative error {err:.3g} against centred finite differences "
            f"(must be < {tol:g}).\nexpected {_preview(n)}\ngot      {_preview(g)}"
            + (f"\nHint: {hint}" if hint else "")
        )
