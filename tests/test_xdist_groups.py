"""The suite's time rests on ``xdist_group``: the book is built once and the red-team class
graded once only when each group runs in one worker; and on the longest groups starting first
(tests/xdist_groups.py)."""

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


def test_the_longest_groups_are_handed_out_first(tmp_path):
    """xdist hands out the groups by number of tests; ``FIRST`` goes before all of them."""
    from tests.xdist_groups import FIRST

    log = tmp_path / "order.log"
    record = f"def _record(name):\n    open({str(log)!r}, 'a').write(name + '\\n')\n"
    (tmp_path / "test_many.py").write_text(
        record + "import pytest\n@pytest.mark.parametrize('i', range(20))\ndef test_many(i): _record('many')\n")
    for group in reversed(FIRST):  # fewest tests, and collected last
        (tmp_path / f"test_z_{group.replace('-', '_')}.py").write_text(
            record + f"import pytest\npytestmark = [pytest.mark.xdist_group({group!r})]\n"
            f"def test_one(): _record({group!r})\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "1", "--dist", "loadgroup", "-p", "no:cacheprovider",
         "-p", "tests.xdist_groups", "-o", "addopts=", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    order = log.read_text().split()
    assert order[:len(FIRST)] == list(FIRST) and set(order[len(FIRST):]) == {"many"}, order
