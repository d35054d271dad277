"""Run the pytest tests of one nbgrader test cell and return its partial-credit score.

A test cell in an exercise notebook looks like this::

    from autograder import run_tests

    def test_shapes():
        ...

    ### BEGIN HIDDEN TESTS
    def test_batch_of_one():
        ...
    ### END HIDDEN TESTS

    run_tests(points=5)

``run_tests`` must be the cell's last expression: it prints a report to stdout and
returns ``points * passed / total``, which nbgrader reads as the cell's partial credit.

The traps it closes (each seen with nbgrader 0.9.6 + ipytest 0.14.2):

1. ipytest's ``raise_on_error=False`` gives a failing cell full credit, because the
   cell neither errors nor returns a number. Here the cell always returns its score;
   it raises only when no test could run at all (collection error, no tests).
2. Any stderr output zeroes a cell in nbgrader. Warnings are recorded and printed
   to stdout, stderr is redirected to stdout while tests run, and pytest's own
   terminal output is discarded in favour of our report.
3. ``--color=yes`` writes ANSI codes into outputs: we pass ``--color=no``.
4. Test functions from earlier cells would re-run: only functions whose code was
   compiled from *this* cell (same ``co_filename`` as the caller) are collected.

Hidden tests (between the nbgrader hidden-test markers) are reported by name and
pass/fail only: no message, no traceback, no source line, so feedback never leaks them.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import os
import re
import sys
import types
import warnings
from dataclasses import dataclass, field

import pytest

from . import integrity
from .markers import hidden_ranges
from .points import cell_points, shown

# Options for every run. The order does not matter to pytest; the reasons do:
PYTEST_ARGS = [
    "-q",
    "--color=no",  # no ANSI escape codes in notebook outputs
    "-p",
    "no:cacheprovider",  # never write .pytest_cache into the student's folder
    "--capture=sys",  # prints/warnings inside tests stay out of the cell's stderr
    "--tb=short",
    "-o",
    "console_output_style=classic",
    "-W",
    "default",  # a warning is information, never an error, inside a test cell
]


class TestCellError(RuntimeError):
    """Raised when a test cell could not run its tests at all (an instructor's bug)."""


@dataclass
class TestResult:
    name: str
    hidden: bool
    passed: bool = True
    outcome: str = "passed"
    message: str = ""


@dataclass
class CellReport:
    points: float
    results: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    upstream: list[str] = field(default_factory=list)  # failed units this cell uses: said first

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def score(self) -> float:
        return cell_points(self.points, self.passed, len(self.results))

    def render(self, title: str = "") -> str:
        head = f"{title}: " if title else ""
        if os.environ.get("AUTOGRADER_RUN") == "feedback":  # rnn-grade's feedback run: no score here
            lines = [f"{head}visible tests: {self.passed}/{len(self.results)} passed (your points come "
                     "from the grader's separate run of all tests, shown below)"]
        else:
            lines = [
                f"{head}{self.passed}/{len(self.results)} tests passed "
                f"-> {shown(self.score)} / {shown(self.points)} points"
            ]
        lines.extend(f"  FIX FIRST: {n}" for n in self.upstream)
        for r in self.results:
            mark = "PASS" if r.passed else "FAIL"
            kind = " (hidden test)" if r.hidden else ""
            lines.append(f"  [{mark}] {r.name}{kind}")
            if not r.passed and not r.hidden and r.message:
                lines.extend("      " + m for m in r.message.rstrip().splitlines())
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


# --------------------------------------------------------------------------- upstream units
# One wrong unit makes every later unit that uses it fail too (a wrong GRU step fails the
# sequence and the backward pass), and those cells' own hints then point at the wrong place.
# Each test cell records whether the unit it tests passed: the functions and classes defined
# by the cell executed just before it (the answer cell above it). A later failing cell whose
# tests use a failed unit, directly or through the student's other functions, says so first.

# name of a function/class -> (the object tested, did its own test cell pass); an object
# defined again since (the student fixed it) has no verdict until its cell runs again
_UNIT_PASSED: dict[str, tuple[object, bool | None]] = {}
_TEST_CELL_FILES: set[str] = set()  # cells that called run_tests (their helpers are no units)


def _cell_files() -> dict[str, int]:
    """IPython's map from a cell's compiled file name to its execution count ({} outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return dict(getattr(getattr(shell, "compile", None), "_filename_map", {}) or {})


def _codes(obj) -> list[types.CodeType]:
    """The code objects of a function, or of a class's methods."""
    obj = getattr(obj, "__wrapped__", obj)
    if isinstance(obj, types.FunctionType):
        return [obj.__code__]
    if isinstance(obj, type):
        return [c for v in vars(obj).values() for c in _codes(getattr(v, "__func__", v))]
    return []


def _student_objects(namespace: dict, this_cell: str) -> dict[str, str]:
    """name -> cell file of every function/class defined by a notebook cell other than this
    one and other than test cells."""
    files = _cell_files()
    out = {}
    for name, obj in list(namespace.items()):
        codes = [] if name.startswith("_") else _codes(obj)
        if codes and codes[0].co_filename in files and codes[0].co_filename != this_cell \
                and codes[0].co_filename not in _TEST_CELL_FILES:
            out[name] = codes[0].co_filename
    return out


def _units_under_test(namespace: dict, this_cell: str) -> set[str]:
    """What this test cell tests: the names the cell executed just before it defined."""
    files = _cell_files()
    number = files.get(this_cell)
    if number is None:
        return set()
    before = {f for f, n in files.items() if n == number - 1}
    return {name for name, f in _student_objects(namespace, this_cell).items() if f in before}


def _names_used(codes: list[types.CodeType]) -> set[str]:
    names, todo = set(), list(codes)
    while todo:
        code = todo.pop()
        names.update(code.co_names)
        todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return names


def _failed_upstream(tests: dict, namespace: dict, this_cell: str, own: set[str]) -> list[str]:
    """Failed units that this cell's tests use, directly or through other student code."""
    student = _student_objects(namespace, this_cell)
    seen: set[str] = set()
    todo = _names_used([c for fn in tests.values() for c in _codes(fn)])
    while todo:
        name = todo.pop()
        if name in seen or name not in student:
            continue
        seen.add(name)
        todo |= _names_used(_codes(namespace[name]))
    return sorted(n for n in seen - own
                  if n in _UNIT_PASSED and _UNIT_PASSED[n] == (namespace[n], False))


def _cell_tests(namespace: dict, filename: str) -> dict[str, types.FunctionType]:
    """The ``test_*`` functions compiled from the cell ``filename``, in definition order."""
    tests = {}
    for name, obj in namespace.items():
        if not name.startswith("test_") or not callable(obj):
            continue
        code = getattr(getattr(obj, "__wrapped__", obj), "__code__", None)
        if code is not None and code.co_filename == filename:
            tests[name] = obj
    return tests


class _Recorder:
    """pytest plugin: keeps each test's outcome and failure text."""

    def __init__(self) -> None:
        self.outcomes: dict[str, TestResult] = {}
        self.collect_errors: list[str] = []
        self.finished: set[str] = set()  # tests whose call phase reported (not interrupted)

    def pytest_collectreport(self, report):  # noqa: D401 - pytest hook
        if report.failed:
            self.collect_errors.append(str(report.longrepr))

    def pytest_runtest_logreport(self, report):
        name = report.nodeid.split("::")[-1]
        res = self.outcomes.setdefault(name, TestResult(name=name, hidden=False))
        if report.when == "call":
            self.finished.add(name)
        if report.passed:
            return
        if report.skipped and report.when != "call":
            res.passed, res.outcome = False, "skipped"
            res.message = "skipped: " + str(report.longrepr[-1] if report.longrepr else "")
            return
        if res.passed:  # keep the first failure (setup before call before teardown)
            res.passed, res.outcome = False, report.outcome
            res.message = _failure_text(report)


_FRAME = re.compile(r"^(?P<path>\S+?\.py):(?P<line>\d+): in (?P<func>\S+)$")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _is_library(path: str) -> bool:
    """A frame in the course's helpers or an installed package (pytest may print the path
    relative to its root folder, e.g. ``autograder/checks.py``)."""
    if "site-packages" in path:
        return True
    where = [path, os.path.join(os.path.dirname(_PACKAGE_DIR), path)]
    return any(os.path.abspath(p).startswith(_PACKAGE_DIR + os.sep) and os.path.exists(p) for p in where)


def readable_traceback(text: str) -> str:
    """pytest's short traceback as a student can use it: a notebook cell's frame reads
    ``cell In [7], line 12, in test_x`` (not ``/tmp/ipykernel_81/3044260946.py:12``), and
    frames inside the course's helpers or installed libraries are left out (their ``E``
    lines, the message itself, stay)."""
    cells = _cell_files()
    out, skipping = [], False
    for line in text.splitlines():
        m = _FRAME.match(line)
        if m:
            path = m["path"]
            skipping = _is_library(path)
            if skipping:
                continue
            if path in cells:
                line = f"cell In [{cells[path]}], line {m['line']}, in {m['func']}"
        elif skipping and not line.startswith("E "):
            continue
        else:
            skipping = False if line.startswith("E ") else skipping
        out.append(line)
    return "\n".join(out)


def _failure_text(report) -> str:
    text = readable_traceback(report.longreprtext or "")
    if "NotImplementedError" in text:
        text += (
            "\nhint: a function you call still raises NotImplementedError: "
            "replace `raise NotImplementedError()` in its # YOUR CODE HERE cell."
        )
    return text


class CellScore(float):
    """What ``run_tests`` returns: the cell's score, a plain number for nbgrader (which reads
    the ``text/plain`` of the cell's result, ``4.29``), and for a student a line that says what
    that number is instead of a bare ``Out[]: 4.29`` (front ends show ``text/html`` first)."""

    def __new__(cls, score: float, points: float):
        obj = super().__new__(cls, score)
        obj.points = points
        return obj

    def _repr_html_(self) -> str:
        if os.environ.get("AUTOGRADER_RUN") == "feedback":  # visible tests only: not the score
            return ("<span>visible tests only: this cell's points are those of the grader's "
                    "separate run of all its tests, shown below</span>")
        return (f"<span>{shown(self)} / {shown(self.points)} points for this cell (nbgrader records "
                f"{shown(self)} as its score)</span>")


def run_tests(points: float, *, title: str = "") -> float:
    """Run the tests defined in the calling cell; print a report; return the score.

    ``points`` must equal the cell's nbgrader points (the release tool checks this).
    """
    frame = sys._getframe(1)
    namespace, filename = frame.f_globals, frame.f_code.co_filename
    del frame
    tests = _cell_tests(namespace, filename)
    if not tests:
        raise TestCellError("run_tests() found no test_* functions defined in this cell")
    hidden = hidden_ranges(linecache.getlines(filename))

    def is_hidden(fn) -> bool:
        line = getattr(fn, "__wrapped__", fn).__code__.co_firstlineno
        return any(a <= line <= b for a, b in hidden)

    report = CellReport(points=float(points))

    module = types.ModuleType("notebook_cell_tests")
    # Fixtures and helpers from any cell are available; tests only from this one.
    module.__dict__.update(
        {k: v for k, v in namespace.items() if not k.startswith(("test_", "Test", "__"))}
    )
    module.__dict__.update(tests)

    recorder = _Recorder()
    exit_code = _run_pytest(module, recorder, report)

    if recorder.collect_errors or exit_code in (
        pytest.ExitCode.INTERNAL_ERROR,
        pytest.ExitCode.USAGE_ERROR,
    ):
        raise TestCellError(
            "pytest could not collect this cell's tests:\n" + "\n".join(recorder.collect_errors)
        )
    hidden_names = {name for name, fn in tests.items() if is_hidden(fn)}
    reported = {r.name.split("[")[0] for r in recorder.outcomes.values()}
    for res in recorder.outcomes.values():  # parametrized tests count once per case
        res.hidden = res.name.split("[")[0] in hidden_names
        if res.passed and res.name not in recorder.finished and res.outcome == "passed":
            # setup passed but the test never finished: interrupted (a cell time limit)
            res.passed, res.outcome, res.message = False, "not run", "this test did not finish"
        report.results.append(res)
    for name in tests.keys() - reported:
        report.results.append(TestResult(name=name, hidden=name in hidden_names, passed=False,
                                         outcome="not run", message="this test did not run"))

    own = _units_under_test(namespace, filename)
    all_passed = bool(report.results) and all(r.passed for r in report.results)
    upstream = [] if all_passed else _failed_upstream(tests, namespace, filename, own)
    if upstream:
        names = ", ".join(f"`{n}`" for n in upstream)
        report.upstream.append(
            f"{names} failed the tests of its own cell above, and this cell's tests use it: "
            f"fix {names} first; the failures here may all come from it.")
    for name in own:  # no verdict on a unit that failed on top of a failed one
        _UNIT_PASSED[name] = (namespace[name], None if upstream else all_passed)
    _TEST_CELL_FILES.add(filename)

    tampered = integrity.tampering_notes()
    if tampered:
        # Tests ran against a patched numpy/torch/pytest/autograder: no credit.
        report.notes.extend(tampered)
        report.notes.append("no credit: functions the tests rely on were replaced at run time")
        for r in report.results:
            r.passed = False
    print(report.render(title))
    return CellScore(report.score, report.points)


def _run_pytest(module: types.ModuleType, recorder: _Recorder, report: CellReport) -> int:
    import ipytest

    sink = io.StringIO()
    old_autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            warnings.simplefilter("default")
            exit_code = ipytest.run(
                *PYTEST_ARGS,
                module=module,
                plugins=[recorder],
                raise_on_error=False,
                run_in_thread=False,
                addopts=[],
                defopts=True,
                coverage=False,
            )
    finally:
        if old_autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = old_autoload
    for w in caught:
        report.notes.append(f"warning: {w.category.__name__}: {w.message}")
    return int(exit_code)
