"""The red-team batch through the real grader: locally (3 workers) and on a Dask cluster.

tests/redteam/make_batch.py writes a tiny course and one submission per attack; the grader
runs them with short limits (60 s a notebook, 12 s a cell, 6 s a test case, 2 GiB: the hanging
attacks wait out their limits, so the limits set the class's grading time). Checked: every student
gets exactly one row and one gradebook submission; the correct one scores 20/20; each attack
scores what EXPECT says (0 for what it attacked) or is flagged; nothing outside the scratch
folders changed (course, class folder, home, /tmp, the loopback listener, rnn-grade's own
forkserver); no feedback page
holds a hidden-test or solution line; and a Dask cluster on loopback, writing into the same
gradebook, gives identical grades without duplicating a row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rnngrade import batch, course, leaks
from tests.redteam import make_batch  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("redteam"),
    pytest.mark.needs_bwrap,
]
# three grading processes on two cores: the hanging attacks wait out their limits, and a third
# process grades while two wait (the class is the suite's longest group: docs/benchmarks/tests.md)
WORKERS = 3
LIMITS = ["--wall", "60", "--cell-timeout", "12", "--test-timeout", "6", "--mem", "2048",
          "--require-sandbox"]
# a full mark, a zero, an unreadable notebook, a dead kernel and a flag: a row of each kind the
# local run wrote (--require-sandbox: every Dask worker grades inside bubblewrap too)
DASK_SUBSET = ["correct", "blank", "invalid_json", "os_exit", "patch_numpy"]


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_symlink():
            h.update(os.readlink(p).encode())
        elif p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _grader(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "rnngrade.batch", *args, "--quiet"],
                          capture_output=True, text=True, env=course.nbgrader_env(), timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def _outputs(path: Path) -> str:
    nb = json.loads(path.read_text())
    return "\n".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.fixture(scope="session")
def listener():
    """A loopback TCP server the network attack tries to reach; records every connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.5)
    hits, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
            except OSError:
                continue
            hits.append((addr, conn.recv(100)))
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], hits
    stop.set()
    t.join(2)
    srv.close()


# session scope, and its own xdist group (tests/xdist_groups.py): the class takes minutes to grade
# and must be graded once
@pytest.fixture(scope="session")
def graded(tmp_path_factory, listener):
    port, hits = listener
    dest = tmp_path_factory.mktemp("redteam")
    token = secrets.token_hex(4)
    paths = make_batch.make(dest, port=port, token=token)
    course, cls, out = paths["course"], paths["class"], paths["out"]
    before = {"course": _tree_hash(course), "class": _tree_hash(cls)}
    _grader(str(cls), "--course", str(course), "--out", str(out), "--workers", str(WORKERS), *LIMITS)
    after = {"course": _tree_hash(course), "class": _tree_hash(cls)}
    return {"paths": paths, "token": token, "hits": hits, "before": before, "after": after,
            "rows": _rows(out)}


def test_every_student_has_exactly_one_row(graded):
    assert set(graded["rows"]) == set(make_batch.EXPECT)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded['paths']['out'] / 'gradebook.db'}", "rnn-course") as gb:
        # only the exercise handed in is in the gradebook: an exercise nobody submitted would
        # count as a zero for everyone in `nbgrader export` and in formgrader's totals
        assert [a.name for a in gb.assignments] == [make_batch.A]
        subs = gb.assignment_submissions(make_batch.A)
        assert sorted(s.student.id for s in subs) == sorted(make_batch.EXPECT)
        assert all(len(s.notebooks) == 1 and len(s.notebooks[0].grades) == 3 for s in subs)


def test_scores_flags_and_errors_are_as_expected(graded):
    wrong = []
    for student, (lo, hi, flagged, error) in make_batch.EXPECT.items():
        r = graded["rows"][student]
        score = float(r["score"])
        if not lo <= score <= hi:
            wrong.append(f"{student}: score {score}, expected {lo}..{hi}")
        if flagged is not None and flagged != (r["status"] == "flagged"):
            wrong.append(f"{student}: status {r['status']!r}, flags {r['flags']!r}")
        if error and error not in r["errors"]:
            wrong.append(f"{student}: errors {r['errors']!r} lack {error!r}")
    assert not wrong, "\n".join(wrong)
    assert graded["rows"]["correct"]["score"] == "20" and not graded["rows"]["correct"]["flags"]


def test_nothing_outside_the_scratch_folders_changed(graded):
    tok, out = graded["token"], graded["paths"]["out"]
    assert graded["hits"] == [], "the network attack reached the host's loopback"
    assert graded["before"] == graded["after"], "the course or class folder changed"
    for p in [Path.home() / f"rt-pwned-home-{tok}.txt", Path(f"/tmp/rt-pwned-tmp-{tok}.txt"),
              graded["paths"]["course"] / f"rt-pwned-course-{tok}.txt", out / f"rt-pwned-out-{tok}.txt",
              Path.home() / "rt-pwned-own-home.txt",
              out.parent / f"rt-pwned-forkserver-{tok}"]:  # what the forkserver's child would touch
        assert not p.exists(), p
    text = "\n".join(_outputs(p) for p in (out / "autograded").rglob("*.ipynb"))
    assert "READ-OK" not in text and "NET-OK" not in text
    assert "READ-BLOCKED" in text and "NET-BLOCKED" in text  # the attacks did run
    # the forkserver attack ran, and reached no forkserver: the sockets it could name are its own
    # kernel's (the connection folder's), never a multiprocessing listener (pymp-*)
    assert "FORKSERVER-TRIED" in text
    sent = [ln for ln in text.splitlines() if ln.startswith("FORKSERVER-SENT")]
    assert not [ln for ln in sent if "pymp-" in ln], sent
    writes = [ln for ln in text.splitlines() if "WRITE-OK" in ln]
    assert writes and all("/home/student/" in w or "/tmp/rt-pwned-tmp" in w for w in writes), writes
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("rnn-grade-*/submitted/correct")), \
        "a scratch folder of this run was left behind"


def test_feedback_holds_no_hidden_test_or_solution_line(graded):
    course, cls, out = graded["paths"]["course"], graded["paths"]["class"], graded["paths"]["out"]
    secret = leaks.secret_lines(course / "solutions")
    assert len(secret) > 10
    pages = sorted((out / "feedback").rglob("*.html"))
    assert {p.parts[-3] for p in pages} == set(make_batch.EXPECT)
    problems = {}
    for page in pages:
        student = page.parts[-3]
        submitted = cls / student / make_batch.A / f"{make_batch.A}.ipynb"
        own = {leaks.normalise(x) for x in batch._notebook_lines(submitted.read_bytes())} if submitted.exists() else set()
        found = leaks.scan_path(page, secret - own)  # a student's own code is not a leak to them
        found = found.get(str(page), []) + batch.check_feedback(page.read_text(), secret, own)
        if found:
            problems[student] = found
    assert not problems, problems
    history = leaks.html_to_text(
        (out / "feedback" / "print_history" / make_batch.A / f"{make_batch.A}.html").read_text())
    assert "def test_scaled_tanh_small" in history  # it printed its history: visible tests only
    looped = leaks.html_to_text((out / "feedback" / "loop_ignores_interrupt" / make_batch.A /
                                 f"{make_batch.A}.html").read_text())
    assert "Not run while your points were computed" in looped and "signal.signal" in looped
    assert "BEGIN HIDDEN" not in history and "x_hidden" not in history


def test_no_hidden_line_reaches_feedback_even_encoded(graded):
    """A notebook that prints its whole history and every code object's constants as base64,
    rot13 and reversed text: the feedback run never held a hidden test, so none decodes."""
    import base64
    import codecs
    import re

    out, course = graded["paths"]["out"], graded["paths"]["course"]
    hidden = {ln for ln in leaks.secret_lines(course / "solutions") if "hidden" in ln or "secret" in ln}
    assert hidden, "the mini exercise's hidden tests name their data *_hidden / *_secret"
    page = leaks.html_to_text(
        (out / "feedback" / "hidden_source_encoded" / make_batch.A / f"{make_batch.A}.html").read_text())
    (blob,) = re.findall(r"B64:([A-Za-z0-9+/=]+)", page)
    decoded = [base64.b64decode(blob).decode(errors="replace")]
    decoded += [codecs.decode(t, "rot13") for t in re.findall(r"ROT13:(.*)", page)]
    decoded += [t[::-1] for t in re.findall(r"REV:(.*)", page)]
    text = "\n".join(decoded).replace(" | ", "\n")
    assert "def test_scaled_tanh_small" in text  # the dump did run
    assert not [h for h in hidden if h in {leaks.normalise(x) for x in text.splitlines()}]
    assert "x_hidden" not in text and "z_hidden" not in text and "x_secret" not in text


def test_outputs_are_capped_and_timestamps_not_believed(graded):
    from nbgrader.api import Gradebook

    out = graded["paths"]["out"]
    for kind, ext in (("feedback", "html"), ("autograded", "ipynb")):
        page = out / kind / "huge_output" / make_batch.A / f"{make_batch.A}.{ext}"
        assert page.stat().st_size < 6 * 2**20, page  # it printed 64 MiB
    # 64 MiB in one message: zmq refuses it (MESSAGE_CAP) before the worker reads it, and the
    # feedback says the cell's output stopped; smaller floods are cut with a note (unit test)
    page = (out / "feedback" / "huge_output" / make_batch.A / f"{make_batch.A}.html").read_text()
    assert "output cut by the grader" in page or "stopped responding" in graded["rows"]["huge_output"]["errors"]
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "rnn-course") as gb:
        sub = gb.find_submission(make_batch.A, "forged_timestamp")
        assert sub.timestamp is None or sub.timestamp.year != 2001


def test_dask_cluster_gives_identical_grades_without_duplicates(graded, tmp_path):
    from distributed import LocalCluster
    from nbgrader.api import Gradebook

    cls, course, out = graded["paths"]["class"], graded["paths"]["course"], graded["paths"]["out"]
    subset = tmp_path / "subset"
    for s in DASK_SUBSET:
        shutil.copytree(cls / s, subset / s, symlinks=True)
    db = f"sqlite:///{out / 'gradebook.db'}"
    with Gradebook(db, "rnn-course") as gb:
        n_grades = sum(len(nb.grades) for s in gb.assignment_submissions(make_batch.A) for nb in s.notebooks)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        _grader(str(subset), "--course", str(course), "--out", str(tmp_path / "dask"), "--db", db,
                "--scheduler", cluster.scheduler_address, *LIMITS)
    dask_rows = _rows(tmp_path / "dask")
    assert set(dask_rows) == set(DASK_SUBSET)
    for s in DASK_SUBSET:
        local = graded["rows"][s]
        assert (dask_rows[s]["score"], dask_rows[s]["status"]) == (local["score"], local["status"]), s
    with Gradebook(db, "rnn-course") as gb:
        # only the exercise handed in is in the gradebook: an exercise nobody submitted would
        # count as a zero for everyone in `nbgrader export` and in formgrader's totals
        assert [a.name for a in gb.assignments] == [make_batch.A]
        subs = gb.assignment_submissions(make_batch.A)
        assert len(subs) == len(make_batch.EXPECT)  # re-grading updated rows, added none
        assert sum(len(nb.grades) for s in subs for nb in s.notebooks) == n_grades
        scores = {s.student.id: s.score for s in subs}
    for s in DASK_SUBSET:
        assert scores[s] == pytest.approx(float(graded["rows"][s]["score"]))
