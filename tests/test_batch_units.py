"""Fast tests of the batch grader's parts: static tamper scan, intake, sandbox, redaction, reports."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from autograder import integrity
from autograder.integrity import module_aliases, protected_names, scan_source
from rnngrade import batch, course, intake, leaks, recovery, report, sandbox, worker
from rnngrade.course import ROOT as REPO

SETUP = """
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from autograder import assert_close, run_tests
from rnncourse import load_checkpoint
CHECKPOINT = "ex_model"
"""
TEST_CELL = """
def test_x():
    assert_close(f(np.ones(2)), torch.ones(2), "f")
    load_checkpoint(CHECKPOINT, Model)
run_tests(points=2)
"""
ALIASES = module_aliases([SETUP, TEST_CELL])
PROTECTED = protected_names([SETUP, TEST_CELL])


def severities(code: str) -> set[str]:
    return {f.severity for f in scan_source(code, aliases=ALIASES, protected=PROTECTED)}


# --------------------------------------------------------------------------- static scan

@pytest.mark.parametrize("code", [
    "def f(x):\n    return np.tanh(x) * 2",
    "import numpy as np\nimport torch.nn.functional as F\nfrom torch import nn\nimport torch",
    "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.w = nn.Linear(2, 2)",
    "%matplotlib inline\nimport math\nx = [i ** 2 for i in range(3)]",
    "def f(x, F=None):\n    np_ = np.asarray(x)\n    return np_",
    "from IPython.display import display\ndisplay(1)",
    "torch.manual_seed(0)\nnp.random.seed(0)",
])
def test_ordinary_code_is_not_flagged(code):
    assert "tamper" not in severities(code), scan_source(code, aliases=ALIASES, protected=PROTECTED)


@pytest.mark.parametrize("code", [
    "np.allclose = lambda *a, **k: True",
    "np.testing.assert_allclose = lambda *a, **k: None",
    "torch.testing.assert_close = lambda *a, **k: None",
    "import pytest\npytest.main = lambda *a, **k: 0",
    "F.cross_entropy = lambda *a, **k: 0",
    "nn.RNN.forward = lambda self, x: x",
    "import autograder.cells as c\nc.CellReport.score = property(lambda s: s.points)",
    "run_tests = lambda points, **k: points",
    "def assert_close(*a, **k):\n    pass",
    "import fakenp as np",
    "setattr(np, 'allclose', lambda *a, **k: True)",
    "setattr(__import__('numpy'), 'allclose', lambda *a, **k: True)",
    "exec('np.allclose = 1')",
    "import sys\nsys.modules['numpy'] = None",
    "import ctypes",
    "import gc\ngc.get_referrers(np.allclose)",
    "import importlib\nimportlib.reload(np)",
    "get_ipython().events.register('post_run_cell', print)",
    "globals()['run_tests'] = print",
    "class Liar:\n    def __array_function__(self, *a):\n        return True",
    "import autograder.cells\nautograder.cells.PYTEST_ARGS.append('-k none')",
    "import sys\nsys.displayhook = print",
    "from unittest import mock\nmock.patch('numpy.allclose')",
    "def f():\n    global np\n    np = None",
])
def test_tampering_is_flagged(code):
    assert "tamper" in severities(code), scan_source(code, aliases=ALIASES, protected=PROTECTED)


@pytest.mark.parametrize("code", [
    "import os\nos.fork()", "import socket", "import subprocess", "!ls /", "CHECKPOINT = 'mine'",
    "open('/etc/passwd').read()",
    # an answer that hands back the tests' own reference (public: they ship with the student runtime)
    "from autograder.oracles.gru import torch_gru_cell_reference\n"
    "def gru_cell_forward(xt, a_prev, params):\n    return torch_gru_cell_reference(xt, a_prev, params)",
    "import autograder.oracles.lm as lm\ndef train_stateful(*a, **k):\n    return lm.truncated_bptt_reference(*a, **k)",
])
def test_suspicious_code_is_listed_for_review(code):
    assert severities(code) == {"review"}, scan_source(code, aliases=ALIASES, protected=PROTECTED)


def test_protected_names_are_those_later_locked_cells_use():
    assert PROTECTED["assert_close"] == ["import", "autograder.assert_close"]
    assert PROTECTED["CHECKPOINT"][0] == "assign"
    assert "test_x" not in PROTECTED and "F" not in PROTECTED  # F is imported but never used later


def test_runtime_integrity_sees_replacements(monkeypatch):
    import numpy as np

    integrity.snapshot()
    assert integrity.tampering_notes() == []
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    assert any("numpy.allclose" in n for n in integrity.tampering_notes())


def test_torch_wrapping_its_own_manual_seed_is_not_tampering():
    """A training cell's optimizer imports torch._dynamo, which wraps torch.manual_seed; a student
    running the solution top to bottom must not be told "TAMPERING" (and get 0) for that."""
    code = textwrap.dedent("""
        import functools, torch
        from autograder import integrity
        integrity.snapshot()
        before = torch.manual_seed
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).step()
        import torch._dynamo
        assert torch.manual_seed is not before, "torch no longer wraps manual_seed: test needs a new trigger"
        assert integrity.tampering_notes() == [], integrity.tampering_notes()
        real = torch.manual_seed
        @functools.wraps(real)
        def fixed_seed(seed):  # a notebook's own wrapper, looking like torch's
            return real(0)
        torch.manual_seed = fixed_seed
        print(integrity.tampering_notes())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torch.manual_seed was replaced" in out.stdout


# --------------------------------------------------------------------------- intake

SPEC = {"ex01": {"notebooks": ["ex01"], "files": ["ex01_model.safetensors", "ex01_model.json"]},
        "ex02": {"notebooks": ["ex02"], "files": []}}


def test_intake_folder_skips_links_and_reads_everything_else(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("instructor only")
    d = tmp_path / "class" / "alice_smith" / "ex01"
    d.mkdir(parents=True)
    (d / "ex01.ipynb").write_text("{}")
    (d / "ex01_model.json").write_text("{}")
    (d / "timestamp.txt").write_text("2025-01-01 10:00:00")
    os.symlink(secret, d / "ex01_model.safetensors")
    (tmp_path / "class" / "bob" / "nope").mkdir(parents=True)
    (tmp_path / "class" / "bob" / "nope" / "x.ipynb").write_text("{}")
    got = intake.read(tmp_path / "class", SPEC)
    [sub] = got.submissions
    assert sub.key == ("alice_smith", "ex01")
    assert set(sub.files) == {"ex01.ipynb", "ex01_model.json"}
    assert sub.timestamp == "2025-01-01 10:00:00"
    assert any("symbolic link" in e for e in sub.errors)
    assert any("unknown assignment 'nope'" in p for p in got.problems)
    assert b"instructor" not in b"".join(sub.files.values())


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_intake_tree_zip_with_top_folder(tmp_path):
    p = tmp_path / "class.zip"
    p.write_bytes(_zip({"export/alice/ex01/ex01.ipynb": b"{}", "export/bob/ex02/ex02.ipynb": b"{}",
                        "export/bob/ex02/data/x.csv": b"1"}))
    got = intake.read(p, SPEC)
    assert [s.key for s in got.submissions] == [("alice", "ex01"), ("bob", "ex02")]
    assert set(got.submissions[1].files) == {"ex02.ipynb"}  # the allow-list: notebook + checkpoints
    assert any("data/x.csv: dropped" in e for e in got.submissions[1].errors)


def test_intake_flat_lms_zip(tmp_path):
    p = tmp_path / "moodle.zip"
    p.write_bytes(_zip({
        "alice_12345_assignsubmission_file_ex01.ipynb": b"{}",
        "alice_12345_assignsubmission_file_ex01_model.safetensors": b"w",
        "alice_12345_assignsubmission_file_ex01_model.json": b"{}",
        "bob_LATE_999_ex01-1.ipynb": b"{}",  # Canvas resubmission suffix
        "bob_LATE_999_ex02.ipynb": b"{}",
        "carol_1_notes.txt": b"hello",  # matches nothing: kept with carol's only assignment
        "carol_1_ex02.ipynb": b"{}",
        "../../etc/passwd": b"x",
    }))
    got = intake.read(p, SPEC)
    keys = {s.key: s for s in got.submissions}
    assert set(keys) == {("alice", "ex01"), ("bob", "ex01"), ("bob", "ex02"), ("carol", "ex02")}
    assert set(keys[("alice", "ex01")].files) == {"ex01.ipynb", "ex01_model.safetensors", "ex01_model.json"}
    assert set(keys[("carol", "ex02")].files) == {"ex02.ipynb"}
    assert any("notes.txt: dropped" in e for e in keys[("carol", "ex02")].errors)
    assert any("unsafe path" in p for p in got.problems)


def test_intake_takes_only_the_notebook_and_checkpoints_and_names_with_spaces(tmp_path):
    """conftest.py, pytest.ini, numpy.py beside the notebook never reach a grading run; a
    Moodle name with a space is kept (as Jane-Doe); an oversized notebook is dropped."""
    p = tmp_path / "moodle.zip"
    p.write_bytes(_zip({
        "Jane Doe_12345_assignsubmission_file_ex01.ipynb": b"{}",
        "Jane Doe_12345_assignsubmission_file_ex01_model.safetensors": b"w",
        "Jane Doe_12345_assignsubmission_file_conftest.py": b"import pytest",
    }))
    got = intake.read(p, SPEC)
    [sub] = got.submissions
    assert sub.key == ("Jane-Doe", "ex01")
    assert sub.names == ("Jane", "Doe")  # formgrader shows "Doe, Jane", not "None, None"
    assert set(sub.files) == {"ex01.ipynb", "ex01_model.safetensors"}
    assert any("conftest.py: dropped" in e for e in sub.errors)
    d = tmp_path / "class" / "bob" / "ex01"
    d.mkdir(parents=True)
    for name in ("conftest.py", "pytest.ini", "numpy.py", "allpass.py"):
        (d / name).write_text("x = 1")
    (d / "ex01.ipynb").write_bytes(b" " * (intake.MAX_NOTEBOOK + 1))
    [bob] = intake.read(tmp_path / "class", SPEC).submissions
    assert bob.files == {}
    assert sum("dropped" in e for e in bob.errors) == 5


# --------------------------------------------------------------------------- sandbox

needs_bwrap = pytest.mark.needs_bwrap  # skipped without bubblewrap; a failure under CI=true (conftest)


@needs_bwrap
def test_bwrap_sandbox_hides_course_blocks_network_and_writes(tmp_path):
    repo = REPO
    work = tmp_path / "run"
    work.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(work, 0o777)
    code = f"""
import os, socket
out = {{}}
for name, p in [("solutions", {str(repo / 'solutions')!r}), ("tmpdir", {str(tmp_path)!r})]:
    out[name] = os.path.exists(p)
try:
    open('/usr/x', 'w'); out['write_usr'] = True
except OSError:
    out['write_usr'] = False
s = socket.socket(); s.settimeout(2)
try:
    s.connect(('1.1.1.1', 80)); out['net'] = True
except OSError:
    out['net'] = False
open('/home/student/ok', 'w').write('1')
try:  # the working folder is a tmpfs with a size: filling it fails
    open('/home/student/big', 'wb').write(b'x' * (200 * 2**20)); out['fill_home'] = True
except OSError:
    out['fill_home'] = False
try:
    open('/dev/shm/big', 'wb').write(b'x' * (200 * 2**20)); out['fill_shm'] = True
except OSError:
    out['fill_shm'] = False
out['uid'] = os.getuid()
out['pid'] = os.getpid()
print(__import__('json').dumps(out))
"""
    pol = sandbox.Policy(mode="bwrap", workdir=str(work), ipc_dir=str(work), limits=sandbox.Limits(),
                         ro_paths=sandbox.python_ro_paths(), uid=sandbox.sandbox_uid())
    sandbox._prepare_owner(pol)
    proc = subprocess.run(sandbox.bwrap_argv(pol, [sys.executable, "-I", "-S", "-c", code]),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out == {"solutions": False, "tmpdir": False, "write_usr": False, "net": False,
                   "fill_home": False, "fill_shm": False, "uid": out["uid"], "pid": out["pid"]}
    assert out["uid"] != 0 or os.geteuid() != 0
    assert out["pid"] < 10  # its own PID namespace
    assert not (work / "ok").exists()  # written to the sandbox's own tmpfs, not the host's folder
    assert out["fill_home"] is False and out["fill_shm"] is False


def test_rlimit_mode_bounds_memory(tmp_path):
    """Without bubblewrap the launcher still applies the memory limit."""
    pol = sandbox.Policy(mode="rlimit", workdir=str(tmp_path), ipc_dir=str(tmp_path),
                         limits=sandbox.Limits(mem_mb=300, wall_s=20), uid=sandbox.sandbox_uid())
    pol.dump(tmp_path / "policy.json")
    os.chmod(tmp_path, 0o777)
    code = "x = bytearray(1024 * 2**20)"
    proc = subprocess.run([sys.executable, "-I", "-S", sandbox.__file__, "launch", str(tmp_path / "policy.json"),
                           "--", sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "MemoryError" in proc.stderr


# --------------------------------------------------------------------------- feedback and reports

def test_redaction_catches_prefixed_and_ansi_lines():
    secret = "mse_hidden = float(((model(x_secret) - y_secret) ** 2).mean())"
    assert leaks.shows_secret(f"     12 {secret}", {secret})
    assert leaks.shows_secret(f"\x1b[0;32m---> 12\x1b[0m {secret}", {secret})
    assert leaks.shows_secret(f">       {secret}", {secret})
    assert leaks.shows_secret(f"        {secret}", {secret})
    assert leaks.shows_secret("### END HIDDEN TESTS", set())
    assert not leaks.shows_secret("mse = float(((model(x) - y) ** 2).mean())", {secret})
    # a line that merely contains a short secret statement is the student's own business
    assert not leaks.shows_secret("def rnn_forward(x, a0, params):", {"rnn_forward(x, a0, params)"})


def test_cell_score_counts_the_scoring_runs_passed_cases():
    cell = {"tests": [{"outcome": "passed"}] * 5 + [{"outcome": "failed"}, {"outcome": "tampering"}]}
    assert worker.cell_score(cell, 2.0) == 1.43  # 2 x 5/7, two decimals (autograder/points.py)
    assert worker.cell_score({"tests": [{"outcome": "timeout"}]}, 5.0) == 0.0
    assert worker.cell_score(None, 5.0) == 0.0  # the scoring run never reached the cell


def test_summary_and_csv(tmp_path):
    rows = [report.Row("a", "ex01", 20, 20), report.Row("b", "ex01", 0, 20, errors=["x"]),
            report.Row("c", "ex01", 0, 20, flags=["ex01: tamper: assigns numpy.allclose (softmax, line 1)"])]
    text = report.summary_text(rows)
    assert "ex01" in text and "histogram" in text
    report.write_csv(rows, tmp_path / "g.csv")
    lines = (tmp_path / "g.csv").read_text().splitlines()
    assert lines[0].startswith("student,assignment,score") and len(lines) == 4
    assert [r.status for r in rows] == ["ok", "error", "flagged"]
    report.write_histograms(rows, tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000


def test_cli_help_lists_layouts():
    out = subprocess.run([sys.executable, "-m", "rnngrade.batch", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for word in ("LMS zip", "--scheduler", "--db", "--workers", "grades.csv"):
        assert word in out.stdout
    assert batch.parser().prog == "rnn-grade"


def test_interrupted_test_does_not_pass(capsys):
    """A test stopped by the cell time limit (KeyboardInterrupt) counts as failed, not passed."""
    from autograder import run_tests

    code = ("def test_quick():\n    pass\n\ndef test_endless():\n    raise KeyboardInterrupt\n\n"
            "score = run_tests(points=2)\n")
    ns = {"run_tests": run_tests, "__name__": "__main__"}
    exec(compile(code, "<interrupted-cell>", "exec"), ns)
    assert ns["score"] < 2
    assert "[PASS] test_endless" not in capsys.readouterr().out


def _gradebook(tmp_path, grade_cells: dict[str, float], solution_cells=()) -> str:
    """A new gradebook with assignment and notebook ex01 and these cells; returns its URL."""
    from nbgrader.api import Gradebook

    course.fast_alembic()
    db = f"sqlite:///{tmp_path / 'gb.db'}"
    with Gradebook(db, "c") as gb:
        gb.add_assignment("ex01")
        gb.add_notebook("ex01", "ex01")
        for name, max_score in grade_cells.items():
            gb.add_grade_cell(name, "ex01", "ex01", max_score=max_score, cell_type="code")
        for name in solution_cells:
            gb.add_solution_cell(name, "ex01", "ex01")
    return db


def test_record_is_idempotent_and_keeps_manual_scores(tmp_path):
    """The coordinator's gradebook write: re-recording updates the same rows, adds none."""
    from nbgrader.api import Gradebook

    db = _gradebook(tmp_path, {"t1": 5, "t2": 15}, solution_cells=["s1"])
    result = {"student": "alice", "assignment": "ex01", "notebooks": {"ex01": {
        "grades": {"t1": {"auto_score": 5.0, "manual_score": None, "needs_manual_grade": False},
                   "t2": {"auto_score": 7.5, "manual_score": None, "needs_manual_grade": False}},
        "comments": {"s1": None}}}}
    for _ in range(3):
        with Gradebook(db, "c") as gb:
            batch.record(gb, result, "2025-01-01 10:00:00")
    with Gradebook(db, "c") as gb:
        [sub] = gb.assignment_submissions("ex01")
        assert sub.score == 12.5 and len(sub.notebooks[0].grades) == 2
        assert str(sub.timestamp).startswith("2025-01-01 10:00:00")
        gb.find_grade("t2", "ex01", "ex01", "alice").manual_score = 10.0  # an instructor's regrade
        gb.db.commit()
    with Gradebook(db, "c") as gb:
        batch.record(gb, result, None)
        assert gb.find_submission("ex01", "alice").score == 15.0  # the manual score survives
    tampered = json.loads(json.dumps(result))
    tampered["notebooks"]["ex01"]["grades"]["t1"].update(manual_score=0.0, needs_manual_grade=True)
    with Gradebook(db, "c") as gb:
        batch.record(gb, tampered, None)
        g = gb.find_grade("t1", "ex01", "ex01", "alice")
        assert (g.score, g.auto_score, g.needs_manual_grade) == (0.0, 5.0, True)


@needs_bwrap
def test_sandboxed_kernel_survives_an_interrupt(tmp_path):
    """A cell's time limit interrupts the kernel (SIGINT to its process group): the cell gets
    KeyboardInterrupt and the kernel, inside bubblewrap, stays alive for the next cells."""
    from jupyter_client.manager import KernelManager

    os.chmod(tmp_path, 0o755)
    run, ipc = tmp_path / "run", tmp_path / "ipc"
    run.mkdir()
    ipc.mkdir()
    pol = sandbox.Policy(mode="bwrap", workdir=str(run), ipc_dir=str(ipc), limits=sandbox.Limits(),
                         ro_paths=sandbox.python_ro_paths(), uid=sandbox.sandbox_uid())
    pol.dump(tmp_path / "policy.json")
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-I", "-S", sandbox.__file__, "launch", str(tmp_path / "policy.json"), "--",
                 sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "sandboxed", "language": "python"}))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    km = KernelManager(kernel_name="python3", transport="ipc", connection_file=str(ipc / "kernel.json"),
                       ip=str(ipc / "k"))
    try:
        km.start_kernel(cwd=str(run))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        def reply_to(msg_id):
            while True:
                msg = kc.get_shell_msg(timeout=60)
                if msg["parent_header"].get("msg_id") == msg_id:
                    return msg["content"]

        # nbgrader runs cells with allow_errors, so nbclient sends stop_on_error=False; with True,
        # ipykernel aborts requests that arrive while it is clearing its queue after the error.
        loop = kc.execute("while True: pass", stop_on_error=False)
        import time

        time.sleep(2)
        km.interrupt_kernel()
        assert reply_to(loop).get("ename") == "KeyboardInterrupt"
        assert reply_to(kc.execute("x = 1 + 1", stop_on_error=False))["status"] == "ok" and km.is_alive()
    finally:
        km.shutdown_kernel(now=True)
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


def test_isolation_tests_fail_without_bubblewrap_under_ci():
    """Under CI=true a missing bubblewrap is a failure, never a skip (conftest's needs_bwrap)."""
    repo = REPO
    test = "tests/test_batch_units.py::test_bwrap_sandbox_hides_course_blocks_network_and_writes"
    base = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no /usr/bin: no bwrap
    ci = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", test],
                        cwd=repo, env={**base, "CI": "true"}, capture_output=True, text=True, timeout=300)
    assert ci.returncode == 1 and "bubblewrap is required under CI=true" in ci.stdout, ci.stdout[-2000:]
    dev = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", test],
                         cwd=repo, env={**base, "CI": "false"}, capture_output=True, text=True, timeout=300)
    assert dev.returncode == 0 and "1 skipped" in dev.stdout, dev.stdout[-2000:]


def test_feedback_run_keeps_at_most_the_output_caps():
    """Each cell keeps CELL_OUTPUT_CAP bytes of output, the notebook NOTEBOOK_OUTPUT_CAP; what is
    cut is said once per cell. (A single message over MESSAGE_CAP never reaches this code:
    zmq refuses it; tests/test_batch_redteam.py prints 64 MiB.)"""
    exe = worker._sandbox_execute_class()()
    exe._cell_bytes, exe._nb_bytes, exe._cut = {}, 0, set()
    exe.clear_before_next_output = False  # set by nbclient when a cell starts

    def stream(n):
        return {"msg_type": "stream", "parent_header": {"msg_id": "m"}, "header": {"msg_type": "stream"},
                "content": {"name": "stdout", "text": "x" * n}}

    outs = []
    for _ in range(10):
        exe.output(outs, stream(100 * 2**10), None, 0)
    kept = sum(len(o.get("text", "")) for o in outs if "cut by the grader" not in o.get("text", ""))
    assert kept <= worker.CELL_OUTPUT_CAP and kept >= worker.CELL_OUTPUT_CAP - 100 * 2**10
    assert sum("cut by the grader" in o.get("text", "") for o in outs) == 1
    for cell in range(1, 40):  # many cells, each under its own cap: the notebook's cap still holds
        exe.output([], stream(400 * 2**10), None, cell)
    assert exe._nb_bytes <= worker.NOTEBOOK_OUTPUT_CAP


def test_record_names_students_from_the_download_and_keeps_an_instructors_names(tmp_path):
    from nbgrader.api import Gradebook

    db = _gradebook(tmp_path, {})
    result = {"student": "Jane-Doe", "assignment": "ex01", "notebooks": {}}
    with Gradebook(db, "c") as gb:
        batch.record(gb, result, None, ("Jane", "Doe"))
        batch.record(gb, {**result, "student": "s1234"}, None, None)
        jane, s1234 = gb.find_student("Jane-Doe"), gb.find_student("s1234")
        assert (jane.first_name, jane.last_name) == ("Jane", "Doe")
        assert (s1234.first_name, s1234.last_name) == ("", "s1234")
        jane.first_name, jane.last_name = "Janet", "Doe-Smith"  # the instructor corrects it
        gb.db.commit()
    with Gradebook(db, "c") as gb:
        batch.record(gb, result, None, ("Jane", "Doe"))
        jane = gb.find_student("Jane-Doe")
        assert (jane.first_name, jane.last_name) == ("Janet", "Doe-Smith")


def test_one_rounding_rule_in_cells_gradebook_csv_and_export(tmp_path):
    """Cells of 4 and 10 points with 5 of 7 tests passed and one of 1 point with 1 of 6:
    2.86 + 7.14 + 0.17 -> 10.17 in the student's cell, the grader's score, grades.csv and
    `nbgrader export` alike (not 10.1667 in one place and 10.166667 in another)."""
    import csv as csv_

    from nbgrader.api import Gradebook

    from autograder import points
    from autograder.cells import CellReport, TestResult
    from rnngrade.nbgrader_ext import RoundedCsvExport

    cell = CellReport(points=4, results=[TestResult(f"t{i}", False, i < 5) for i in range(7)])
    tests = {"tests": [{"outcome": "passed" if i < 5 else "failed"} for i in range(7)]}
    assert cell.score == worker.cell_score(tests, 4) == points.cell_points(4, 5, 7) == 2.86
    earned = {"t1": 2.86, "t2": points.cell_points(10, 5, 7), "t3": points.cell_points(1, 1, 6)}
    assert earned == {"t1": 2.86, "t2": 7.14, "t3": 0.17}

    db = _gradebook(tmp_path, {"t1": 4, "t2": 10, "t3": 1})
    with Gradebook(db, "c") as gb:
        result = {"student": "alice", "assignment": "ex01", "notebooks": {"ex01": {"grades": {
            k: {"auto_score": v, "manual_score": None, "needs_manual_grade": False} for k, v in earned.items()},
            "comments": {}}}}
        batch.record(gb, result, None)
        RoundedCsvExport(to=str(tmp_path / "export.csv")).export(gb)
    with open(tmp_path / "export.csv") as f:
        [row] = list(csv_.DictReader(f))
    assert (row["score"], row["max_score"]) == ("10.17", "15")
    assert row["last_name"] == "alice"
    row_ = report.Row(student="alice", assignment="ex01", score=points.rounded(sum(earned.values())),
                      max_score=15.0, cells={}, flags=[], errors=[], sandbox="bwrap", seconds=1.0)
    report.write_csv([row_], tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv") as f:
        assert next(csv_.DictReader(f))["score"] == "10.17"


def test_the_worker_gets_the_job_not_the_submission():
    """task.json, which the worker process reads, holds what it needs to grade and nothing of
    the submission's bytes or the student's name (those stay with the coordinator)."""
    task = batch.Task(student="Jane-Doe", assignment="ex01", files={"ex01.ipynb": b"{}"},
                      course_id="c", limits=sandbox.Limits().__dict__, packages=["autograder"],
                      errors=["x.py: dropped"], names=("Jane", "Doe"))
    job = json.loads(json.dumps(task.job("bwrap")))
    assert job == {"student": "Jane-Doe", "assignment": "ex01", "course_id": "c", "limits": task.limits,
                   "packages": ["autograder"], "mode": "bwrap", "intake_errors": ["x.py: dropped"]}


def test_feedback_math_is_mathml_drawn_without_a_script():
    """Feedback is read offline, where nbconvert's MathJax (from a CDN) never loads: its math
    is MathML, which the browser draws itself; a dollar amount and escaped dollars stay text."""
    from rnngrade.nbgrader_ext import math_to_mathml

    out = math_to_mathml(r"Step $a^{\langle t\rangle} = \tanh(W a + b)$, costs $5; $$\frac{\partial L}{\partial a}$$ "
                         r"and \$x$ stays.")
    assert out.count("<math") == 2 and 'display="block"' in out and 'display="inline"' in out
    assert "costs $5;" in out and r"\$x$ stays" in out and r"\tanh" not in out


def test_worker_feedback_loads_no_mathjax_from_the_internet(tmp_path):
    """The batch grader's feedback page is rendered as nbgrader's GenerateFeedback sets up its
    HTMLExporter (template ``feedback``), with the worker's config: nbconvert's ``mathjax()``
    macro is the course's (``nbgrader_ext.offline_html``), which loads no script."""
    import re

    import nbformat
    from nbconvert.exporters import HTMLExporter
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    c = worker._nbgrader_config(tmp_path, {"course_id": "c"}, sandbox.Limits())
    feedback = GenerateFeedback(coursedir=CourseDirectory(config=c), config=c)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("$x$")])
    html, _ = HTMLExporter(config=feedback.config).from_notebook_node(
        nb, resources={"nbgrader": {"notebook": "n", "score": 1, "max_score": 2, "late_penalty": 0}})
    assert "Score" in html and "math is MathML" in html
    assert not re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']?https?://", html, flags=re.I)


def test_feedback_wraps_long_lines():
    page = "<html><head><title>x</title></head><body><pre>" + "x" * 500 + "</pre></body></html>"
    out = worker.wrap_long_lines(page)
    assert "white-space: pre-wrap" in out and out.index("pre-wrap") < out.index("</head>")


def test_journal_keeps_the_last_entry_and_ignores_a_line_cut_by_a_kill(tmp_path):
    lines = [{"student": "a", "assignment": "x", "state": "retry"},
             {"student": "b", "assignment": "x", "state": "recorded"},
             {"student": "a", "assignment": "x", "state": "recorded"}]
    text = "".join(json.dumps(e) + "\n" for e in lines) + '{"student": "c", "assignm'
    (tmp_path / recovery.JOURNAL).write_text(text)
    assert recovery.read_journal(tmp_path) == {("a", "x"): lines[2], ("b", "x"): lines[1]}
    assert recovery.read_journal(tmp_path / "none") == {}


class _FlakyGradebook:
    """Stands in for nbgrader's Gradebook in db_call: counts rollbacks."""

    def __init__(self):
        self.rollbacks = 0
        self.db = self

    def rollback(self):
        self.rollbacks += 1


def _unavailable():
    from sqlalchemy import exc

    raise exc.OperationalError("INSERT ...", {}, Exception("could not connect to server: Connection refused"))


def test_a_gradebook_that_never_answers_is_given_up_after_db_wait(capsys):
    import time

    gb = _FlakyGradebook()
    t0 = time.monotonic()
    with pytest.raises(recovery.GradingError, match=r"has not answered for 1\.2 s \(.*Connection refused"):
        recovery.db_call(gb, 1.2, _unavailable)
    took = time.monotonic() - t0
    assert 1.1 <= took < 3.0, took  # waited out --db-wait (backoff 0.5 s, then the 0.7 s left), no longer
    assert gb.rollbacks >= 2
    assert "the result is kept, trying again" in capsys.readouterr().err


def test_db_call_retries_until_the_gradebook_answers_and_never_retries_a_real_error():
    from sqlalchemy import exc

    gb, calls = _FlakyGradebook(), []

    def twice_down_then_up():
        calls.append(1)
        if len(calls) < 3:
            _unavailable()
        return "recorded"

    assert recovery.db_call(gb, 30, twice_down_then_up) == "recorded" and len(calls) == 3
    with pytest.raises(exc.IntegrityError):  # the submission's problem, not the server's: at once
        recovery.db_call(gb, 30, lambda: (_ for _ in ()).throw(exc.IntegrityError("x", {}, Exception("dup"))))
    with pytest.raises(OSError, match="gradebook"):  # SQLite's full disk: no wait helps
        recovery.db_call(gb, 30, lambda: (_ for _ in ()).throw(
            exc.OperationalError("x", {}, Exception("database or disk is full"))))


def test_resume_skips_only_recorded_unchanged_submissions_that_are_in_the_gradebook(tmp_path):
    """A journal entry "retry" (the grader's own failure), a changed submission, another
    gradebook, or a recorded one missing from the gradebook: graded again. Only "recorded",
    same digest, same gradebook, present: skipped."""
    from argparse import Namespace

    from nbgrader.api import Gradebook

    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    limits = sandbox.Limits()
    kit = batch.Kit("ex", b"", {"notebooks": {}})

    def task(student, body=b"{}"):
        return batch.Task(student, "ex", {"ex.ipynb": body}, "course", limits.__dict__, ["autograder"])

    tasks = [task("recorded"), task("retry"), task("changed"), task("other-db"), task("lost")]
    plan = batch.Plan({"ex": kit}, tasks, {}, [], limits, db_url, "here", 1, "bwrap", "", {})
    args = Namespace(trust_timestamps=False, regrade=False, course_id="course")
    recovery.resume(plan, tmp_path, args)  # computes the digests
    digests = dict(plan.digests)
    entries = [("recorded", "recorded", digests[("recorded", "ex")], db_url),
               ("retry", "retry", digests[("retry", "ex")], db_url),
               ("changed", "recorded", "an older digest", db_url),
               ("other-db", "recorded", digests[("other-db", "ex")], "sqlite:///elsewhere.db"),
               ("lost", "recorded", digests[("lost", "ex")], db_url)]
    for student, state, digest, db in entries:
        recovery.journal_append(tmp_path, {"student": student, "assignment": "ex", "state": state,
                                           "digest": digest, "db": db, "row": {}})
    with Gradebook(db_url, "course") as gb:
        gb.add_assignment("ex")
        for student in ("recorded", "retry", "changed", "other-db"):  # not "lost"
            gb.add_student(student)
            gb.add_submission("ex", student)
    todo, done = recovery.resume(plan, tmp_path, args)
    assert set(done) == {("recorded", "ex")}
    assert [t.student for t in todo] == ["retry", "changed", "other-db", "lost"]
    todo, done = recovery.resume(plan, tmp_path, Namespace(**{**vars(args), "regrade": True}))
    assert done == {} and len(todo) == 5


def test_a_cached_kit_is_the_built_kit_and_changes_with_what_it_is_made_from(tmp_path, monkeypatch):
    """--kit-cache: the second run reads the kit the first one built (build_kit not called); a
    changed solution notebook is a new kit; a run with a private data file neither reads nor
    writes the cache (the instructor's private words never land in it)."""
    import json

    from rnngrade import batch, course
    from tests.faults import tiny_class as tiny

    crs = tiny.build_course(tmp_path / "tiny")
    cache = tmp_path / "cache"
    monkeypatch.setenv("PATH", course.nbgrader_env()["PATH"])
    for var in course.PRIVATE_DATA_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    built = batch.cached_kit(crs, tiny.A, course.COURSE_ID, cache)
    assert [p.name for p in cache.iterdir()] == [f"{batch.kit_key(crs, tiny.A, course.COURSE_ID)}.tar.gz"]

    def no_build(*args):
        raise AssertionError("build_kit called although the kit is in the cache")

    with monkeypatch.context() as m:
        m.setattr(batch, "build_kit", no_build)
        again = batch.cached_kit(crs, tiny.A, course.COURSE_ID, cache)
    assert again.blob == built.blob and again.info == built.info
    entry = next(cache.iterdir())
    entry.write_bytes(b"not a kit")  # a damaged entry is built again, not trusted
    assert batch.cached_kit(crs, tiny.A, course.COURSE_ID, cache).info == built.info

    import nbformat

    path = crs / "solutions" / tiny.A / f"{tiny.A}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\n\nOne sentence more."
    nbformat.write(nb, path)
    changed = batch.cached_kit(crs, tiny.A, course.COURSE_ID, cache)
    assert len(list(cache.iterdir())) == 2 and changed.blob != built.blob

    secret = tmp_path / "private.txt"
    secret.write_text("word W ER D\n")
    monkeypatch.setenv(course.PRIVATE_DATA_VARIABLES[0], str(secret))
    private = batch.cached_kit(crs, tiny.A, course.COURSE_ID, cache)
    assert private.info["private"] and len(list(cache.iterdir())) == 2
    assert not any(b"W ER D" in p.read_bytes() for p in cache.iterdir())
    assert json.dumps(private.info) != json.dumps(changed.info)


def test_the_forkserver_attack_works_where_its_socket_is_reachable(tmp_path):
    """The red-team's ``forkserver_socket`` attack is real: run as the same user, outside any
    sandbox, against the forkserver that rnn-grade forks its grading processes from, it makes
    the forkserver's child run its command. In the sandbox the socket is out of reach, and the
    same attack changes nothing (tests/test_batch_redteam.py)."""
    import multiprocessing.forkserver as mp_forkserver
    import time

    from tests.redteam import make_batch

    assert batch._forkserver() is not None
    mp_forkserver.ensure_running()
    address = mp_forkserver._forkserver._forkserver_address
    marker = tmp_path / "forkserver-ran-this"
    attack = "import numpy as np\n" + make_batch.forkserver_attack(marker, (address,))
    proc = subprocess.run([sys.executable, "-c", attack], capture_output=True, text=True, timeout=60)
    assert f"FORKSERVER-SENT {address}" in proc.stdout, proc.stdout + proc.stderr
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the forkserver's child did not run the attack's command"
