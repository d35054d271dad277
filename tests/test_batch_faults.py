"""rnn-grade on real infrastructure, and under faults (docs/grading.md, "Faults").

One tiny class (tests/faults/tiny_class.py: one function, 4 students, one of whom sleeps
15 s in the feedback run so that something can be killed while it is being graded), graded
by real ``rnn-grade`` processes:

* into a real PostgreSQL server started here (initdb in a temporary folder, fsync off,
  loopback TCP port), checked with nbgrader's own API and formgrader's queries;
* on a real Dask cluster of separate processes (``dask scheduler``, two ``dask worker
  --nthreads 1 --no-nanny``), identical scores to the local run;
* under faults, each ending with every submission recorded exactly once (one journal line,
  one gradebook submission each) and complete reports: a Dask worker SIGKILLed while it
  grades; the coordinator SIGKILLed mid-batch, then resumed (what was recorded is not graded
  again), with a second rnn-grade started meanwhile refused by the lock; the PostgreSQL
  server stopped mid-batch and started again; the output folder's disk filled mid-batch
  (a tmpfs of 16 MiB: needs root; fails under CI=true otherwise, like the sandbox).

All share one PostgreSQL server and one class (session fixtures) in one xdist group.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from rnngrade import batch, course, recovery
from tests.faults import tiny_class as tiny

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults"), pytest.mark.needs_bwrap]
STUDENTS = ["correct-1", "half-1", "slow-1", "wrong-1"]  # graded in this order: slow-1 starts third
CI = os.environ.get("CI", "").lower() == "true"


def _missing(what: str):
    if CI:
        pytest.fail(f"{what} is required under CI=true", pytrace=False)
    pytest.skip(f"{what} is not available here")


def _cmd(cls: Path, crs: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rnngrade.batch", str(cls), "--course", str(crs), "--out", str(out),
            *tiny.LIMITS, *extra]


def _grade(cls: Path, crs: Path, out: Path, *extra: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(_cmd(cls, crs, out, *extra), capture_output=True, text=True,
                          env=course.nbgrader_env(), timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _start(cls: Path, crs: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(_cmd(cls, crs, out, *extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=course.nbgrader_env())


def _csv(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def _journal(out: Path) -> list[dict]:
    p = out / recovery.JOURNAL
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def _wait(cond, timeout: float, what: str, proc: subprocess.Popen | None = None):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = cond()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"rnn-grade ended (exit {proc.returncode}) before {what}: {proc.stderr.read()[-3000:]}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _gradebook_scores(url: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(url, course.COURSE_ID) as gb:
        subs = gb.assignment_submissions(tiny.A)
        assert len({s.student.id for s in subs}) == len(subs)  # one submission per student
        for s in subs:  # every grade written: no half-recorded submission
            assert all(g.auto_score is not None for nb in s.notebooks for g in nb.grades), s.student.id
        return {s.student.id: s.score for s in subs}


def _assert_complete(out: Path, url: str) -> None:
    """Every student graded exactly once: one gradebook submission with every grade, one
    journal line "recorded", one row of grades.csv, each with the expected score."""
    scores = _gradebook_scores(url)
    assert scores == {s: tiny.expected(s) for s in STUDENTS}
    recorded = [(e["student"], e["state"]) for e in _journal(out)]
    assert sorted(recorded) == [(s, "recorded") for s in STUDENTS], recorded
    rows = _csv(out)
    assert {s: float(r["score"]) for s, r in rows.items()} == scores
    assert all(r["status"] == "ok" for r in rows.values()), rows
    run = json.loads((out / "run.json").read_text())
    assert set(run["states"]) == {f"{s}/{tiny.A}" for s in STUDENTS}
    for name in ("grades_cells.csv", "summary.txt", "errors.txt"):
        assert (out / name).exists()
    for s in STUDENTS:
        assert (out / "feedback" / s / tiny.A / f"{tiny.A}.html").stat().st_size > 1000


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def tiny_class(tmp_path_factory):
    return tiny.make(tmp_path_factory.mktemp("tiny"), STUDENTS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)


class Postgres:
    """A PostgreSQL server of its own: initdb in a temporary folder, trust authentication,
    fsync off, listening on 127.0.0.1:<free port> and a Unix socket in that folder. As root
    it runs as ``nobody`` (postgres refuses to run as root)."""

    def __init__(self):
        self.bin = {n: _pg_bin(n) for n in ("initdb", "pg_ctl")}
        if not all(self.bin.values()):
            _missing("a PostgreSQL server (initdb, pg_ctl: apt-get install postgresql)")
        try:
            import psycopg  # noqa: F401 - SQLAlchemy's driver for postgresql:// URLs
        except ImportError:
            _missing("psycopg (the instructor extra: pip install -e '.[instructor]')")
        self.root = Path(tempfile.mkdtemp(prefix="rnn-pg-"))
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
            self.as_user = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        self._run("initdb", "-D", str(self.root / "data"), "-U", "grader", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run([*self.as_user, self.bin[tool], *args], capture_output=True, text=True,
                              timeout=120, cwd=self.root)
        assert proc.returncode == 0, f"{tool} {args}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"

    def start(self) -> None:
        opts = (f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c port={self.port} "
                f"-c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}")
        self._run("pg_ctl", "-D", str(self.root / "data"), "-o", opts, "-l", str(self.root / "log"),
                  "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", mode, "-w", "stop")

    def url(self, db: str) -> str:
        return f"postgresql://grader@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str = "postgres"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="grader", dbname=db, connect_timeout=5)

    def create(self, db: str) -> str:
        with self.connect() as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{db}"')
        return self.url(db)

    def count(self, db: str, table: str = "submitted_assignment") -> int:
        try:
            conn = self.connect(db)
        except Exception:  # noqa: BLE001 - not up, or the tables not made yet
            return -1
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT count(*) FROM {table}")
                return cur.fetchone()[0]
        except Exception:  # noqa: BLE001
            return -1
        finally:
            conn.close()

    def close(self) -> None:
        try:
            self.stop("immediate")
        except AssertionError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg():
    server = Postgres()
    yield server
    server.close()


@pytest.fixture(scope="session")
def local_pg(tiny_class, pg, tmp_path_factory):
    """The class graded by a local pool into PostgreSQL: the reference every other run must equal."""
    out = tmp_path_factory.mktemp("local-pg")
    url = pg.create("rnn_local")
    proc = _grade(tiny_class["class"], tiny_class["course"], out, "--workers", "2", "--db", url)
    return {"out": out, "url": url, "stderr": proc.stderr}


class DaskCluster:
    """``dask scheduler`` and two ``dask worker --nthreads 1 --no-nanny``, separate processes on 127.0.0.1."""

    def __init__(self):
        dask = Path(sys.executable).with_name("dask")
        self.base = [str(dask)] if dask.exists() else [sys.executable, "-m", "dask"]
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.procs["scheduler"] = self._spawn("scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                              "--no-dashboard")
        for name in ("w1", "w2"):
            self.add_worker(name)

    def _spawn(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*self.base, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**course.nbgrader_env(), "OMP_NUM_THREADS": "1"})

    def add_worker(self, name: str) -> None:
        self.procs[name] = self._spawn("worker", self.address, "--nthreads", "1", "--no-nanny", "--name", name,
                                       "--host", "127.0.0.1", "--no-dashboard")
        self.wait_for(len([n for n, p in self.procs.items() if n != "scheduler" and p.poll() is None]))

    def wait_for(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(n, timeout=120)

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(scope="session")
def cluster():
    c = DaskCluster()
    yield c
    c.close()


# --------------------------------------------------------------------------- real infrastructure

def test_postgresql_gradebook_read_by_nbgrader_and_formgrader_queries(local_pg):
    """A real PostgreSQL server: rnn-grade --db postgresql://user@host:port/db creates the tables,
    records every submission once, and formgrader's queries read it."""
    from nbgrader.api import Gradebook

    out, url = local_pg["out"], local_pg["url"]
    _assert_complete(out, url)
    with Gradebook(url, course.COURSE_ID) as gb:
        assert [a.name for a in gb.assignments] == [tiny.A]
        subs = {d["student"]: d for d in gb.submission_dicts(tiny.A)}  # formgrader's "Manage submissions"
        assert {s: d["score"] for s, d in subs.items()} == {s: tiny.expected(s) for s in STUDENTS}
        assert all(d["max_score"] == 3 and not d["needs_manual_grade"] for d in subs.values())
        nbs = gb.notebook_submission_dicts(tiny.A, tiny.A)  # formgrader's per-notebook list
        assert sorted((d["student"], d["score"]) for d in nbs) == sorted(
            (s, tiny.expected(s)) for s in STUDENTS)
        mean = sum(tiny.expected(s) for s in STUDENTS) / len(STUDENTS)
        assert gb.average_assignment_score(tiny.A) == pytest.approx(mean)
        assert gb.average_notebook_score(tiny.A, tiny.A) == pytest.approx(mean)
        assert gb.average_assignment_code_score(tiny.A) == pytest.approx(mean)
        assert gb.average_notebook_code_score(tiny.A, tiny.A) == pytest.approx(mean)
        students = {d["id"]: d for d in gb.student_dicts()}  # formgrader's "Manage students"
        assert set(students) == set(STUDENTS) and students["half-1"]["score"] == 1.5
    assert json.loads((out / "run.json").read_text())["db"] == url


def test_progress_bar_shows_done_errors_flagged_and_time_left(local_pg):
    """The progress bar an instructor watches: n/total, ok / errors / flagged, and time left."""
    frames = local_pg["stderr"].replace("\r", "\n").splitlines()
    last = [f for f in frames if f.startswith("grading:") and "4/4" in f][-1]
    assert "ok 4, errors 0, flagged 0" in last, last
    assert "<" in last  # elapsed<remaining
    assert any("1/4" in f and "<00:" in f and "?" not in f.split("<")[1][:6] for f in frames), frames


def test_a_second_run_into_the_same_postgresql_gradebook_is_refused(tiny_class, local_pg, pg, tmp_path):
    """The PostgreSQL lock: while a session holds rnn-grade's advisory lock for this course
    (as a running rnn-grade does), another rnn-grade into that database stops at once."""
    db = local_pg["url"].rsplit("/", 1)[1]
    before = pg.count(db, "grade")
    with pg.connect(db) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (recovery.RunLock.pg_key(course.COURSE_ID),))
        refused = _grade(tiny_class["class"], tiny_class["course"], tmp_path / "second", "--db", local_pg["url"],
                         ok=False)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "another rnn-grade is writing into this gradebook" in refused.stderr
    assert pg.count(db, "grade") == before and not (tmp_path / "second" / recovery.JOURNAL).exists()


def test_separate_process_dask_cluster_gives_the_local_scores(tiny_class, local_pg, pg, cluster, tmp_path):
    """A scheduler and two workers, each its own process; the gradebook (PostgreSQL) equals the local run's."""
    url = pg.create("rnn_dask")
    out = tmp_path / "dask"
    _grade(tiny_class["class"], tiny_class["course"], out, "--scheduler", cluster.address, "--db", url, "--quiet")
    _assert_complete(out, url)
    assert _gradebook_scores(url) == _gradebook_scores(local_pg["url"])
    local, dask = _csv(local_pg["out"]), _csv(out)
    assert {s: (r["score"], r["status"]) for s, r in dask.items()} == {
        s: (r["score"], r["status"]) for s, r in local.items()}
    assert json.loads((out / "run.json").read_text())["where"] == f"Dask cluster at {cluster.address}"


# --------------------------------------------------------------------------- faults

def _grading_processes() -> dict[int, Path]:
    """Every grading process (``rnngrade.worker.main`` names itself ``PROCESS_NAME``) and the task
    folder it works in."""
    from rnngrade.worker import PROCESS_NAME

    found = {}
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            if Path(comm).read_bytes().strip() == PROCESS_NAME:
                found[int(Path(comm).parent.name)] = Path(os.readlink(Path(comm).with_name("cwd")))
        except OSError:
            continue
    return found


def _ancestors(pid: int) -> set[int]:
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return seen


def _grading_child(parent_pid: int) -> dict | None:
    """The task a process (a Dask worker, rnn-grade) is grading now: the task.json of a grading
    process it started (directly, or through rnn-grade's forkserver)."""
    for pid, folder in _grading_processes().items():
        if parent_pid in _ancestors(pid):
            try:
                return json.loads((folder / "task.json").read_text())
            except (OSError, ValueError):
                continue
    return None


def _workers_in(scratch: Path) -> list[int]:
    """Grading processes whose task folder is under ``scratch``."""
    return [pid for pid, folder in _grading_processes().items() if folder.is_relative_to(scratch)]


def test_dask_worker_killed_mid_batch_is_rescheduled_and_recorded_once(tiny_class, pg, cluster, tmp_path):
    url = pg.create("rnn_worker_kill")
    out = tmp_path / "kill-worker"
    proc = _start(tiny_class["class"], tiny_class["course"], out, "--scheduler", cluster.address, "--db", url)
    try:
        workers = {n: p for n, p in cluster.procs.items() if n != "scheduler"}
        name = _wait(lambda: next((n for n, p in workers.items()
                                   if (_grading_child(p.pid) or {}).get("student") == "slow-1"), None),
                     120, "a worker grading slow-1", proc)
        workers[name].send_signal(signal.SIGKILL)  # in the middle of slow-1's sleep
        workers[name].wait(10)
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.procs.pop(name, None)
        cluster.add_worker(f"{name}b")  # the cluster as it was, for whoever comes next
    _assert_complete(out, url)
    assert "second result was ignored" not in err


def test_coordinator_killed_then_resumed_and_a_second_run_refused_by_the_lock(tiny_class, local_pg, tmp_path):
    """rnn-grade SIGKILLed after 3 of 4 submissions were recorded; meanwhile a second rnn-grade
    on the same folder, and one on the same gradebook from another folder, are refused; the
    same command run again grades only slow-1 and ends equal to an uninterrupted run."""
    cls, crs = tiny_class["class"], tiny_class["course"]
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    first = _start(cls, crs, out, "--workers", "2", "--scratch", str(scratch))
    try:
        _wait(lambda: len(_journal(out)) >= 3, 120, "3 submissions recorded", first)
        assert _grading_child(first.pid)["student"] == "slow-1"  # still being graded
        assert _workers_in(scratch)
        same_out = _grade(cls, crs, out, "--workers", "1", ok=False)
        same_db = _grade(cls, crs, tmp_path / "other", "--db", f"sqlite:///{out / 'gradebook.db'}", ok=False)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    for refused, what in ((same_out, "output folder"), (same_db, "gradebook")):
        assert refused.returncode == 2, refused.stderr[-2000:]
        assert f"another rnn-grade is using this {what}" in refused.stderr
        assert f"pid {first.pid}" in refused.stderr
    assert not (tmp_path / "other" / recovery.JOURNAL).exists()
    # the process grading slow-1 died with its coordinator (no orphan grading for nobody)
    _wait(lambda: not _workers_in(scratch), 10, "the orphaned grading process gone")
    before = {e["student"] for e in _journal(out)}
    assert len(before) == 3 and "slow-1" not in before
    with sqlite3.connect(out / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    again = _grade(cls, crs, out, "--workers", "2")
    assert "resuming: 3 submission(s) already recorded" in again.stderr
    run = json.loads((out / "run.json").read_text())
    assert [t["student"] for t in run["timings"]] == ["slow-1"]  # nothing else was graded again
    assert run["graded"] == 1 and run["skipped"] == 3
    assert run["states"] == {f"{s}/{tiny.A}": ("graded" if s == "slow-1" else "skipped: recorded by an earlier run")
                             for s in STUDENTS}
    _assert_complete(out, f"sqlite:///{out / 'gradebook.db'}")
    local = _csv(local_pg["out"])
    assert {s: (r["score"], r["status"], r["errors"]) for s, r in _csv(out).items()} == {
        s: (r["score"], r["status"], r["errors"]) for s, r in local.items()}
    _check_resume_decisions(tiny_class, out)


def _check_resume_decisions(tiny_class, out: Path) -> None:
    """Which submissions a run skips, on the journal just written: all recorded ones, none with
    --regrade, not one whose notebook changed, not one missing from the gradebook."""
    args = batch.parser().parse_args([str(tiny_class["class"]), "--course", str(tiny_class["course"]),
                                      "--out", str(out), *tiny.LIMITS, "--quiet"])
    args.package = list(batch.DEFAULT_PACKAGES)
    plan = batch.make_plan(args)
    todo, done = recovery.resume(plan, out, args)
    assert todo == [] and len(done) == 4
    changed = plan.tasks[0]
    changed.files = {**changed.files, f"{tiny.A}.ipynb": changed.files[f"{tiny.A}.ipynb"] + b" "}
    todo, _ = recovery.resume(plan, out, args)
    assert [t.student for t in todo] == [changed.student]
    args.regrade = True
    assert len(recovery.resume(plan, out, args)[0]) == 4
    args.regrade = False
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course.COURSE_ID) as gb:  # deleted in formgrader's db
        gb.remove_submission(tiny.A, "wrong-1")
    assert {t.student for t in recovery.resume(plan, out, args)[0]} == {changed.student, "wrong-1"}


def test_postgresql_restarted_mid_batch_results_kept_and_written_when_back(tiny_class, pg, tmp_path):
    db = "rnn_outage"
    url = pg.create(db)
    out = tmp_path / "outage"
    proc = _start(tiny_class["class"], tiny_class["course"], out, "--workers", "2", "--db", url, "--db-wait", "90")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        _wait(lambda: pg.count(db) >= 3, 120, "3 submissions in PostgreSQL", None)
        assert pg.count(db) == 3
        pg.stop("fast")  # slow-1 is still being graded
        try:
            _wait(lambda: any("the gradebook is unavailable" in ln for ln in lines), 60,
                  "rnn-grade to notice the outage")
        finally:
            pg.start()
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    assert proc.returncode == 0, "".join(lines)[-3000:]
    _assert_complete(out, url)
    assert "the result is kept, trying again" in "".join(lines)


def test_output_disk_full_mid_batch_stops_cleanly_and_resumes(tiny_class, tmp_path):
    if os.geteuid() != 0:
        _missing("root (to mount a small tmpfs as the output folder's disk)")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)]).returncode:
        _missing("mount -t tmpfs")
    try:
        out = disk / "out"
        cls, crs = tiny_class["class"], tiny_class["course"]
        proc = _start(cls, crs, out, "--workers", "2", "--db-wait", "20")
        try:
            _wait(lambda: len(_journal(out)) >= 3, 120, "3 submissions recorded", proc)
            with open(disk / "filler", "wb") as f:  # the disk full while slow-1 is being graded
                try:
                    while True:
                        f.write(b"\0" * 2**20)
                        f.flush()
                except OSError:
                    pass
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 2, err[-3000:]
        assert "the output folder's disk is full" in err and "run the same command again to resume" in err, err
        assert "Traceback" not in err
        url = f"sqlite:///{out / 'gradebook.db'}"
        journal = {e["student"] for e in _journal(out)}
        assert journal == {"correct-1", "half-1", "wrong-1"}
        # whatever reached the gradebook is whole (each submission one transaction)
        assert set(_gradebook_scores(url)) >= journal
        (disk / "filler").unlink()
        again = _grade(cls, crs, out, "--workers", "2")
        assert "resuming: 3 submission(s) already recorded" in again.stderr
        _assert_complete(out, url)
        with sqlite3.connect(out / "gradebook.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        subprocess.run(["umount", "-l", str(disk)])
