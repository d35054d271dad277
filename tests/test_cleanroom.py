"""The scoring run (rnngrade.cleanroom) on its own, without a sandbox: fast checks of what
it loads, how it names test cases, and that a test process cannot forge its verdict.

The full grader runs the same attacks inside bubblewrap in tests/test_batch_redteam.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rnngrade import cleanroom, release

SETUP = "import numpy as np\nfrom autograder import assert_close\n"
TEST = '''
def test_double():
    x = np.arange(4.0)
    expected = 2 * x  # computed before the call, as many real tests do
    assert_close(double(x), expected, "double(x)")

### BEGIN HIDDEN TESTS
def test_hidden_double():
    x = np.ones((2, 3))
    assert_close(double(x), 2 * x, "double(x)")
### END HIDDEN TESTS

run_tests(points=4)
'''


def _score(student: str, tmp_path: Path, timeout: float = 20, test: str = TEST, env: dict | None = None) -> dict:
    tests, hidden = cleanroom.test_names(test)
    cells = [{"kind": "instructor", "id": "setup", "source": SETUP},
             {"kind": "student", "id": "double", "source": student},
             {"kind": "test", "id": "test_double", "source": test, "tests": tests, "hidden": hidden, "points": 4.0}]
    (tmp_path / "in.json").write_text(json.dumps({"cells": cells}))
    r, w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-I", "-m", "rnngrade.cleanroom", str(tmp_path / "in.json"), str(w),
                             str(timeout)], pass_fds=[w], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    proc.wait(timeout=120)
    report = json.loads(data)
    report["outcomes"] = {t["name"]: t["outcome"] for t in report["cells"]["test_double"]["tests"]}
    return report


def test_correct_code_passes_and_hidden_tests_are_named(tmp_path):
    rep = _score("def double(x):\n    return x * 2\n", tmp_path)
    assert rep["outcomes"] == {"test_double": "passed", "test_hidden_double": "passed"}
    assert [t["hidden"] for t in rep["cells"]["test_double"]["tests"]] == [False, True]


@pytest.mark.parametrize("name,student", [
    ("exit with the pass status", "import os\ndef double(x):\n    os._exit(10)\n"),
    ("posix._exit", "import sys\ndef double(x):\n    sys.modules['posix']._exit(10)\n"),
    ("ctypes _exit", "def double(x):\n    __import__('ctypes').CDLL(None)._exit(10)\n"),
    ("frame walk", "import inspect\ndef double(x):\n"
                   "    return [v for f in inspect.stack() for v in f.frame.f_locals.values()\n"
                   "            if v is not x and getattr(v, 'shape', None) == x.shape][0]\n"),
    ("swap the helper's code", "def double(x):\n    assert_close.__code__ = (lambda *a, **k: None).__code__\n"
                               "    return x\n"),
    ("patch the helper's module", "import numpy\nimport autograder.checks as c\ndef double(x):\n"
                                  "    c.as_numpy = lambda v: numpy.zeros(4)\n    return x\n"),
    ("patch numpy, restore when the answer dies",
     "import numpy\ndef double(x):\n"
     "    real = numpy.allclose\n    numpy.allclose = lambda *a, **k: True\n"
     "    S = type('S', (numpy.ndarray,), {'__del__': lambda self: setattr(numpy, 'allclose', real)})\n"
     "    return numpy.zeros_like(x).view(S)\n"),
    ("a helper's globals", "import numpy\ndef double(x):\n"
                           "    assert_close.__globals__['as_numpy'] = lambda v: numpy.zeros(4)\n"
                           "    return x\n"),
    ("write the report to every fd", "import os\ndef double(x):\n    for fd in range(3, 64):\n"
                                     "        try:\n            os.write(fd, b'{}')\n        except OSError:\n"
                                     "            pass\n    return x\n"),
    ("pose as a test frame", "def double(x):\n    g = {}\n"
                             "    exec(compile('import sys\\nf = sys._getframe(2)', '<test t>', 'exec'), g)\n"
                             "    return [v for v in g['f'].f_locals.values()\n"
                             "            if v is not x and getattr(v, 'shape', None) == x.shape][0]\n"),
    ("loop forever", "def double(x):\n    while True:\n        pass\n"),
    ("kill itself", "import os, signal\ndef double(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n"),
    ("top-level patch", "import numpy\nnumpy.max = lambda *a, **k: 0.0\ndef double(x):\n    return x\n"),
    ("a decorator that patches", "import numpy\ndef p(f):\n    numpy.max = lambda *a, **k: 0.0\n    return f\n"
                                 "@p\ndef double(x):\n    return x\n"),
])
def test_a_wrong_answer_cannot_forge_a_pass(name, student, tmp_path):
    rep = _score(student, tmp_path, timeout=5)
    assert "passed" not in rep["outcomes"].values(), (name, rep["outcomes"])


TRAINS_THROUGH_THE_COURSE = """import torch
from rnncourse import train

class _Fit(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(1, 1)

    def forward(self, x, targets=None):
        out = self.lin(x)
        return out, (None if targets is None else ((out - targets) ** 2).mean())

def double(x):
    train(_Fit(), iter([(torch.ones(4, 1), torch.ones(4, 1))] * 2), steps=2, progress=False)
    return x * FACTOR
"""


@pytest.mark.parametrize("factor,expected", [(2, "passed"), (3, "failed")])
def test_an_answer_that_builds_an_optimizer_without_saying_optim_is_judged_on_its_result(factor, expected, tmp_path):
    """``rnncourse.train`` builds the optimizer, so no cell the scoring run reads says "optim" and
    torch imports torch._dynamo inside a test process, where the guard refuses what it does: the
    chunk is run again after the import (``cleanroom._run_cases``). A correct answer passes (it
    was flagged as tampering before), a wrong one still fails."""
    rep = _score(TRAINS_THROUGH_THE_COURSE.replace("FACTOR", str(factor)), tmp_path)
    assert rep["outcomes"] == {"test_double": expected, "test_hidden_double": expected}


def test_importing_torch_dynamo_on_purpose_buys_a_tamperer_nothing(tmp_path):
    """The rerun after the warm-up is an ordinary guarded run: tampering is still tampering."""
    student = ("import autograder.checks as c\nimport numpy\ndef double(x):\n    import torch._dynamo\n"
               "    c.as_numpy = lambda v: numpy.zeros(4)\n    return x\n")
    rep = _score(student, tmp_path)
    assert set(rep["outcomes"].values()) == {"tampering"}


def test_the_warm_up_reads_the_code_that_can_run_not_a_training_loop():
    """A student's top-level training loop never runs in the scoring run: its "optim" does not
    make every test process pay for torch._dynamo; a kept definition's or the course's does."""
    loop = "if not is_grading():\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
    assert not cleanroom._may_build_an_optimizer([{"kind": "student", "source": loop}])
    assert cleanroom._may_build_an_optimizer([{"kind": "student", "source": "def f(m):\n    return torch.optim.SGD(m)\n"}])
    assert cleanroom._may_build_an_optimizer([{"kind": "test", "source": "opt = torch.optim.Adam(p)"}])
    assert not cleanroom._may_build_an_optimizer([{"kind": "student", "source": "def broken(:\n    optim"}])


def test_student_definitions_keep_definitions_and_drop_everything_that_runs():
    src = '''
import numpy as np
EPS = 1e-8
SCALE = -2 ** 3
print("hello")
x = np.arange(3)
def ok(a, b=EPS):
    return a + b
@property_like
def bad_decorator():
    pass
def bad_default(a=np.zeros(3)):
    return a
class Model(nn.Module):
    size = 3
    def forward(self, x):
        return x
class Meta(object, metaclass=type):
    pass
class Dies:
    def __del__(self):
        pass
class Computed:
    table = {k: 1 for k in range(3)}
if not is_grading():
    train()
'''
    kept, dropped = cleanroom.student_definitions(src)
    names = [getattr(s, "name", None) or type(s).__name__ for s in kept]
    assert names == ["Import", "Assign", "Assign", "ok", "Model"]
    why = " | ".join(str(d) for d in dropped)
    for text in ("print(", "x = np.arange", "def bad_decorator", "def bad_default", "metaclass", "__del__",
                 "class Computed"):
        assert text in why, text
    assert "is_grading" not in why  # the training block is meant not to run: nothing to report


def test_parametrized_cases_are_named_as_pytest_names_them():
    import pytest as pt

    @pt.mark.parametrize("threshold", [0.75, 0.9])
    @pt.mark.parametrize("seed,n", [(1, 10), (2, 20)])
    def test_x(threshold, seed, n):
        pass

    got = cleanroom.cases(test_x)
    assert [c for c, _ in got] == ["1-10-0.75", "1-10-0.9", "2-20-0.75", "2-20-0.9"]
    assert got[1][1] == {"seed": 1, "n": 10, "threshold": 0.9}


def test_release_refuses_a_course_cell_that_calls_student_code(tmp_path):
    from tests.harness import readonly, solution, tests, write

    cells = [readonly("setup", "import numpy as np\nfrom autograder import run_tests"),
             solution("f", "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
             readonly("demo", "print(f(3))"),
             tests("test_f", "def test_f():\n    assert f(1) == 1\n\nrun_tests(points=20)", points=20)]
    path = tmp_path / "ex.ipynb"
    write(str(path), cells)
    with pytest.raises(release.ReleaseError, match="uses f outside a function"):
        release.lint_source(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = "if not is_grading():\n    print(f(3))"  # a demo block: fine
    nbformat.write(nb, path)
    assert release.lint_source(path) == 20


# A hidden test that reads an instructor's private data file (as exercise 8's does with its
# private test words): a value no student can compute, 7 -> 271828.
PRIVATE_TEST = '''
def test_double():
    assert_close(double(np.arange(4.0)), 2 * np.arange(4.0), "double(x)")

### BEGIN HIDDEN TESTS
import os as _os
_CASES = {int(a): float(b) for a, b in (ln.split() for ln in open(_os.environ["MY_PRIVATE"]) if ln.strip())}

def test_hidden_private_cases():
    for k, v in _CASES.items():
        assert double(k) == v, f"double({k})"
### END HIDDEN TESTS

run_tests(points=4)
'''
READS_THE_HIDDEN_NAMESPACE = "def double(x):\n    return globals().get('_CASES', {}).get(x, x * 2)\n"
OPENS_THE_PRIVATE_FILE = ("import os\ndef double(x):\n    table = {int(a): float(b) for a, b in\n"
                          "             (ln.split() for ln in open(os.environ['MY_PRIVATE']) if ln.strip())}\n"
                          "    return table.get(x, x * 2)\n")
OPENS_IT_THROUGH_A_FOLDER_FD = ("import os\ndef double(x):\n    p = os.environ['MY_PRIVATE']\n"
                                "    d = os.open(os.path.dirname(p), os.O_RDONLY)\n"
                                "    f = os.open(os.path.basename(p), os.O_RDONLY, dir_fd=d)\n"
                                "    table = {int(a): float(b) for a, b in (ln.split() for ln in\n"
                                "             os.read(f, 1000).decode().splitlines() if ln.strip())}\n"
                                "    return table.get(x, x * 2)\n")
LINKS_IT_UNDER_ANOTHER_NAME = ("import os, tempfile\ndef double(x):\n"
                               "    alias = os.path.join(tempfile.mkdtemp(), 'innocent.txt')\n"
                               "    os.symlink(os.environ['MY_PRIVATE'], alias)\n"
                               "    table = {int(a): float(b) for a, b in (ln.split() for ln in open(alias) if ln.strip())}\n"
                               "    return table.get(x, x * 2)\n")


@pytest.fixture
def private_file(tmp_path):
    secret = tmp_path / "private" / "rnngrade-private-MY_PRIVATE"
    secret.parent.mkdir()
    secret.write_text("3 6.0\n7 271828.0\n")
    return {"MY_PRIVATE": str(secret), cleanroom.PRIVATE_FILES_ENV: str(secret)}


def test_hidden_test_data_stays_out_of_the_students_namespace():
    assert cleanroom.hidden_bindings(PRIVATE_TEST) == {"_os", "_CASES", "test_hidden_private_cases"}
    assert cleanroom.hidden_bindings(TEST) == {"test_hidden_double"}


def test_an_honest_answer_is_scored_on_the_private_data(private_file, tmp_path):
    rep = _score("def double(x):\n    return x * 2\n", tmp_path, test=PRIVATE_TEST, env=private_file)
    assert rep["outcomes"] == {"test_double": "passed", "test_hidden_private_cases": "failed"}


@pytest.mark.parametrize("name,student,expected", [
    ("reads the hidden test's data from its globals", READS_THE_HIDDEN_NAMESPACE, "failed"),
    ("opens the private file", OPENS_THE_PRIVATE_FILE, "tampering"),
    ("opens it through a folder's descriptor", OPENS_IT_THROUGH_A_FOLDER_FD, "tampering"),
    ("links it under another name", LINKS_IT_UNDER_ANOTHER_NAME, "tampering"),
    ("reads it as code (io.open_code)", OPENS_THE_PRIVATE_FILE.replace(
        "open(os.environ['MY_PRIVATE'])", "__import__('io').open_code(os.environ['MY_PRIVATE']).read().decode().splitlines()"),
     "tampering"),
    ("reads it through linecache", OPENS_THE_PRIVATE_FILE.replace(
        "open(os.environ['MY_PRIVATE'])", "__import__('linecache').getlines(os.environ['MY_PRIVATE'])"), "tampering"),
    ("reads it in a class body, at load", "import os\nclass T:\n    table = {int(a): float(b) for a, b in\n"
     "             (ln.split() for ln in open(os.environ['MY_PRIVATE']) if ln.strip())}\n"
     "def double(x):\n    return T.table.get(x, x * 2) if isinstance(x, int) else x * 2\n", "failed"),
])
def test_a_student_cannot_read_the_instructors_private_data(name, student, expected, private_file, tmp_path):
    """Exercise 8's private test words are the one sure defence against training on the test
    words (docs/grading.md): the scoring run loads them with the course's cells, before any
    student code, and neither the student's namespace nor an open of the file reaches them."""
    rep = _score(student, tmp_path, test=PRIVATE_TEST, env=private_file)
    assert rep["outcomes"]["test_hidden_private_cases"] == expected, name
