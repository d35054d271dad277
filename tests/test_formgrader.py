"""nbgrader's formgrader and feedback pages as an instructor and a student open them, offline.

A scratch course (the repository's settings: its ``nbgrader_config.py`` calls
``configure_nbgrader``) holds one tiny assignment whose markdown has ``$\\alpha + \\beta$``; one
submission is autograded into a sqlite gradebook and given feedback with the ordinary nbgrader
commands. A real Jupyter server with the formgrader extension then serves it on 127.0.0.1 and
headless Chromium opens the submission's formgrade page with every other host blocked. nbgrader's
templates load MathJax from a CDN; the course's config (``rnngrade.nbgrader_ext.offline_html``
and ``MathAsMathML`` on every ``HTMLExporter``) makes the math MathML and loads no script.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from rnngrade.course import fast_alembic, generate_assignment, nbgrader_env
from tests.browser import ensure_chromium, visit
from tests.harness import md, readonly, run_nbgrader, solution, write
from tests.harness import tests as graded_cell  # not named test*: pytest would collect it

ASSIGNMENT = "ex01"
STUDENT = "ada"
MATH = r"$\alpha + \beta$"
ANSWER = "def answer():\n    return 2"
CONFIG = """from rnngrade.course import configure_nbgrader

c = get_config()  # noqa: F821
configure_nbgrader(c, {root!r})
"""
SERVER_START_S = 60
# After load: the math's drawn width, and whether nbgrader's formgrade.js finished its set-up
# (FormGrader.init sets `loaded` last; it waits for MathJax 2's startup signal).
FORMGRADE_PROBE = """async () => {
  await new Promise(r => setTimeout(r, 200));
  const m = document.querySelector("math");
  return {mathWidth: m ? m.getBoundingClientRect().width : 0,
          ready: !!(window.formgrader && window.formgrader.loaded)};
}"""
# The two tests share the course (autograding it takes seconds): one worker runs both.
pytestmark = [pytest.mark.xdist_group("formgrader")]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course folder laid out as the repository's (solutions/, exercises/, grading/), one
    submission autograded into grading/gradebook.db, and its feedback generated."""
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(CONFIG.format(root=str(root)))
    source = root / "solutions" / ASSIGNMENT
    source.mkdir(parents=True)
    write(str(source / f"{ASSIGNMENT}.ipynb"), [
        md("intro", rf"""
            # Exercise 1
            The sum {MATH} of two angles."""),
        readonly("setup", "import math"),
        solution("answer", """
            def answer():
                ### BEGIN SOLUTION
                return 2
                ### END SOLUTION"""),
        graded_cell("test_answer", "assert answer() == 2", points=1),
    ])
    (root / "grading").mkdir()
    release = generate_assignment(ASSIGNMENT, release=root / "exercises", source=root / "solutions",
                                  root=root, db_url=f"sqlite:///{root / 'grading' / 'gradebook.db'}")
    nb = nbformat.read(release / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer":
            cell.source = ANSWER
    submitted = root / "grading" / "submitted" / STUDENT / ASSIGNMENT
    submitted.mkdir(parents=True)
    nbformat.write(nb, submitted / f"{ASSIGNMENT}.ipynb")
    (submitted / "timestamp.txt").write_text("2026-11-28 12:00:00.000000 UTC")
    py = sys.executable
    run_nbgrader([py, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"], root, 300)
    run_nbgrader([py, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, "--force"], root, 300)
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def formgrader(course, tmp_path_factory):
    """``jupyter server`` with nbgrader's formgrader, run from the course folder as an instructor
    does; yields (base URL, token). The server is stopped whatever happens."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**nbgrader_env(), "JUPYTER_CONFIG_DIR": str(jupyter / "config"), "JUPYTER_DATA_DIR": str(jupyter / "data"),
           "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"), "JUPYTER_PLATFORM_DIRS": "1"}
    cmd = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
           f"--ServerApp.root_dir={course}", "--allow-root",
           # what `jupyter server extension enable nbgrader.server_extensions.formgrader` writes
           '--ServerApp.jpserver_extensions={"nbgrader.server_extensions.formgrader": True}']
    log = jupyter / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter server not up after {SERVER_START_S} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield base, token
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_feedback_loads_no_mathjax_from_the_internet(course):
    page = (course / "grading" / "feedback" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    scripts = re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']?(https?://[^\"' >]*)", page, flags=re.I)
    assert not [s for s in scripts if "mathjax" in s.lower()], f"feedback loads MathJax from {scripts}"
    assert "<math" in page, "no MathML in the feedback page"
    assert r"$\alpha" not in page, "raw TeX left in the feedback page"


def test_formgrader_shows_math_offline(course, formgrader):
    from nbgrader.api import Gradebook

    if ensure_chromium() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is missing: as root, `apt-get install -y chromium` (Debian package)")
        pytest.skip("Chromium is not installed")
    fast_alembic()
    with Gradebook(f"sqlite:///{course / 'grading' / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, STUDENT).id
    base, token = formgrader
    seen = visit(f"{base}/formgrader/submissions/{submission}/?token={token}", probe=FORMGRADE_PROBE)
    assert not seen.blocked_requests, f"the formgrade page called the internet: {seen.blocked_requests}"
    assert "Exercise 1" in seen.text, f"not the submission's page:\n{seen.text[:2000]}"
    assert "<math" in seen.html, "no MathML in the formgrade page"
    assert r"$\alpha" not in seen.text, "raw TeX shown in the formgrade page"
    assert seen.probe["mathWidth"] > 0, "the MathML is not drawn"
    assert not seen.failed_requests, f"requests that failed on the server: {seen.failed_requests}"
    assert not seen.js_errors, f"JavaScript errors in the formgrade page: {seen.js_errors}"
    assert seen.probe["ready"], "formgrade.js did not finish setting up (it waits for MathJax's signal)"
