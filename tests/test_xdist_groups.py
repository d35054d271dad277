"""The suite's time rests on ``xdist_group``: the book is built once and the red-team class
graded once only when each group runs in one worker (tests/xdist_groups.py)."""

import subprocess
import sys
import textwrap

from rnngrade.course import ROOT

CONFTEST = """
import os
import pytest

@pytest.fixture(scope="session")
def heavy():
    with open("setups.log", "a") as f:
        f.write(f"{os.getpid()}\\n")
"""
MODULE = """
import pytest

pytestmark = [pytest.mark.xdist_group("heavy")]

{tests}
"""


def test_a_group_runs_in_one_worker_and_builds_its_session_fixture_once(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name in "ab":
        tests = "\n".join(f"def test_{name}{i}(heavy): pass" for i in range(6))
        (tmp_path / f"test_{name}.py").write_text(textwrap.dedent(MODULE.format(tests=tests)))
    (tmp_path / "test_free.py").write_text(
        "import pytest\n@pytest.mark.parametrize('i', range(20))\ndef test_free(i): pass\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
         "-p", "tests.xdist_groups", "-o", "addopts=", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "32 passed" in proc.stdout
    setups = (tmp_path / "setups.log").read_text().split()
    assert len(setups) == 1, f"the group's session fixture was set up in {len(setups)} workers"
