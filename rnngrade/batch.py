"""``rnn-grade``: grade a class's submissions in parallel, isolated, into nbgrader's gradebook.

    rnn-grade SUBMISSIONS [--out grading] [--db URL] [--workers N | --scheduler ADDRESS]

How it works (docs/grading.md has the instructor's version):

* The coordinator (this process) discovers the assignments in ``<course>/solutions/`` and
  builds one **grading kit** per assignment: ``nbgrader generate_assignment`` into a scratch
  gradebook (it holds the locked cells and hidden tests nbgrader restores), the names of
  each test cell's tests, the lines that must never reach a student (``leaks.secret_lines``).
* ``intake`` reads the submissions (folder or zip) into memory, never following links.
* One **task** per (student, assignment) runs ``grade_task``: on a local thread pool, or on
  a Dask cluster with ``--scheduler`` — the same function either way. It unpacks the kit
  and the submission into a scratch folder and grades them in a fresh process
  (``rnngrade.worker.main``, forked from a forkserver that imported it: ``_run_worker``)
  whose Jupyter kernel runs in the sandbox
  (``rnngrade.sandbox``); it returns scores, flags, errors, the autograded notebook and
  the feedback HTML, and deletes the scratch folder.
* The coordinator is the ONLY writer of the gradebook: as results arrive it updates the
  student's submission rows in one transaction (nbgrader's unique keys make a re-run
  update the same rows: nothing is lost or duplicated), writes the files, scans each
  feedback page once more for hidden material, then writes the CSVs and the summary.
* Faults: each recorded submission is appended to ``<out>/journal.jsonl``; running the same
  command again skips what is recorded and unchanged (``--regrade``: all). One run at a time
  per output folder and gradebook (``RunLock``). A gradebook that stops answering is retried
  (``--db-wait``); a full disk stops the run with a message saying how to resume.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder import points

from . import course as contract
from . import intake, leaks, report, sandbox
from .course import fast_alembic, generate_assignment, hide_password, nbgrader_env
from .recovery import (
    DB_WAIT_S,
    DISK_FULL,
    GradingError,
    RunLock,
    db_call,
    journal_append,
    resume,
    row_from_journal,
    row_to_journal,
)

DEFAULT_PACKAGES = ["autograder", "rnncourse"]
SETUP_MARGIN_S = 120  # kernel start-up, nbgrader bookkeeping and feedback, beyond the notebook's wall time


# --------------------------------------------------------------------------- kits

@dataclass
class Kit:
    assignment: str
    blob: bytes  # tar.gz: gradebook.db, source/<assignment>/..., kit.json
    info: dict


@dataclass
class Task:
    """One submission to grade: what travels from the coordinator to wherever it is graded
    (a thread of the local pool or a Dask worker). ``files``: the submission's bytes by path
    relative to its assignment folder, as the intake allow-list kept them."""

    student: str
    assignment: str
    files: dict[str, bytes]
    course_id: str
    limits: dict  # sandbox.Limits as a dict
    packages: list[str]
    errors: list[str] = field(default_factory=list)  # the intake's, for this submission
    timestamp: str | None = None  # timestamp.txt, believed only with --trust-timestamps
    names: tuple[str, str] | None = None  # (first, last) from the download
    no_sandbox: bool = False
    require_sandbox: bool = False
    scratch_base: str | None = None
    keep_scratch: bool = False

    def job(self, mode: str) -> dict:
        """What the worker process reads (``task.json``): no submission bytes, no names."""
        return {"student": self.student, "assignment": self.assignment, "course_id": self.course_id,
                "limits": self.limits, "packages": self.packages, "mode": mode,
                "intake_errors": list(self.errors)}


@dataclass
class Plan:
    """What ``grade`` decided before grading anything."""

    kits: dict[str, Kit]
    tasks: list[Task]
    secrets: dict[str, set[str]]  # assignment -> lines that must never reach feedback
    problems: list[str]  # intake problems that belong to no submission
    limits: sandbox.Limits
    db_url: str
    where: str
    workers: int | None
    mode: str
    why: str
    phases: dict[str, float]
    digests: dict[tuple[str, str], str] = field(default_factory=dict)  # (student, assignment) -> task_digest


def discover(course: Path) -> list[str]:
    sol = course / "solutions"
    if not sol.is_dir():
        raise GradingError(f"{course}: no solutions/ folder (use --course to point at the course)")
    return sorted(p.name for p in sol.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _refuse_reference_checkpoints(course: Path, assignment: str) -> None:
    """``release.refuse_reference_checkpoints`` on the exercise's solutions, as a GradingError."""
    from .release import ReleaseError, refuse_reference_checkpoints

    try:
        refuse_reference_checkpoints(course / "solutions" / assignment)
    except ReleaseError as e:
        raise GradingError(str(e)) from None


def build_kit(course: Path, assignment: str, course_id: str) -> Kit:
    """Everything a worker needs to grade one assignment, made from the *release*.

    * ``gradebook.db``: nbgrader's, from ``generate_assignment``, with each locked cell's
      source replaced by its **released** version (visible tests only), so the feedback
      run that nbgrader executes never holds a hidden test;
    * ``source/``: the release's data files (never a file of ``solutions/``: a reference
      checkpoint there stops the grader, see ``release.reference_checkpoints``);
    * ``kit.json``: per notebook, the scoring kit (``cleanroom.course_cells``: locked and
      test cells with their hidden tests, for the scoring run only), the cells a student may
      not change, the checkpoint files it names, and the lines that must never reach a
      student (``leaks.secret_lines``).
    """
    import nbformat

    _refuse_reference_checkpoints(course, assignment)
    with tempfile.TemporaryDirectory(prefix="rnn-grade-kit-") as tmp:
        tmp = Path(tmp)
        try:
            release = generate_assignment(assignment, release=tmp / "release", root=course,
                                          source=course / "solutions", course_id=course_id,
                                          db_url=f"sqlite:///{tmp / 'gradebook.db'}")
        except RuntimeError as e:
            raise GradingError(str(e)) from None
        notebooks, files = {}, []
        for src in sorted((course / "solutions" / assignment).glob("*.ipynb")):
            notebooks[src.stem] = notebook_kit(nbformat.read(src, as_version=4))
            files += notebooks[src.stem]["checkpoints"]
            _release_sources(tmp / "gradebook.db", course_id, assignment, release / f"{src.stem}.ipynb")
        src_dir = tmp / "source" / assignment
        src_dir.mkdir(parents=True)
        for f in release.rglob("*"):  # the release's data files: safe to give back to the kernel
            if f.is_file() and f.suffix != ".ipynb":
                dest = src_dir / f.relative_to(release)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
        private = _private_files(tmp / "private")
        info = {"assignment": assignment, "notebooks": notebooks, "files": sorted(set(files)),
                "private": private,
                "data_files": sorted(str(f.relative_to(src_dir)) for f in src_dir.rglob("*") if f.is_file()),
                "secrets": sorted(leaks.secret_lines(course / "solutions" / assignment))}
        (tmp / "kit.json").write_text(json.dumps(info))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name in ("gradebook.db", "kit.json", "source", *(["private"] if private else [])):
                tar.add(tmp / name, arcname=name)
        return Kit(assignment, buf.getvalue(), info)


KIT_CACHE_ENV = "RNN_GRADE_KIT_CACHE"  # the default of --kit-cache


def notebook_kit(nb) -> dict:
    """One source notebook's part of the kit: the cells a student may not change, the graded cells
    (points, test names), what the static checks protect (``worker.static_flags``), the scoring
    run's cells and the checkpoint files the notebook names."""
    import nbformat

    from autograder.integrity import module_aliases, protected_names

    from . import cleanroom
    from .release import checkpoint_patterns

    locked, grade_cells, locked_src = {}, {}, []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid and meta.get("locked") and not meta.get("solution"):
            locked[gid] = True
            if cell.cell_type == "code":
                locked_src.append(cell.source)
        if gid and meta.get("grade") and cell.cell_type == "code" and not meta.get("solution"):
            grade_cells[gid] = {"points": float(meta.get("points", 0))}
    scoring = cleanroom.course_cells(json.loads(nbformat.writes(nb)))
    for c in scoring:
        if c["kind"] == "test":
            grade_cells[c["id"]]["tests"] = c["tests"]
    return {"locked": sorted(locked), "grade_cells": grade_cells, "aliases": module_aliases(locked_src),
            "protected": protected_names(locked_src), "scoring": scoring,
            "checkpoints": checkpoint_patterns(locked_src)}


def kit_key(course: Path, assignment: str, course_id: str) -> str:
    """What a kit is made from, as one SHA-256: the assignment's ``solutions/`` folder (every
    file), the course's ``nbgrader_config.py``, the course id, the versions of nbgrader and
    nbformat, and the grader's own code (``rnngrade`` and ``autograder``, which decide what
    goes into kit.json). Two kits with the same key are the same kit."""
    import hashlib

    import nbformat
    import nbgrader

    h = hashlib.sha256(json.dumps([course_id, assignment, nbgrader.__version__, nbformat.__version__,
                                   _grader_digest()]).encode())
    h.update(_files_digest("solutions", course / "solutions" / assignment).encode())
    h.update(_files_digest("config", course / "nbgrader_config.py").encode())
    return h.hexdigest()


@functools.cache
def _grader_digest() -> str:
    """The grader's own code (``rnngrade`` and ``autograder``): read once per process, not once
    per exercise."""
    import autograder

    return _files_digest("rnngrade", Path(__file__).parent) + _files_digest("autograder", Path(autograder.__file__).parent)


def _files_digest(label: str, root: Path) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents; no __pycache__)."""
    import hashlib

    h = hashlib.sha256()
    if root.is_file():
        h.update(f"{label}/{root.name}".encode() + b"\0" + hashlib.sha256(root.read_bytes()).digest())
    elif root.is_dir():
        for f in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            h.update(f"{label}/{f.relative_to(root)}".encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def cached_kit(course: Path, assignment: str, course_id: str, cache: Path | None) -> Kit:
    """``build_kit``, kept in the folder ``cache`` under its ``kit_key`` and read back from there
    the next time (a resumed or repeated run, another exercise's run of the same course). Not
    cached: a kit that holds an instructor's private data file (``_private_files``)."""
    from .course import PRIVATE_DATA_VARIABLES

    if cache is None or any(os.environ.get(v) for v in PRIVATE_DATA_VARIABLES):
        return build_kit(course, assignment, course_id)
    _refuse_reference_checkpoints(course, assignment)  # as build_kit does: a cached kit is no way round it
    path = Path(cache) / f"{kit_key(course, assignment, course_id)}.tar.gz"
    try:
        blob = path.read_bytes()
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            info = json.load(tar.extractfile("kit.json"))
        return Kit(assignment, blob, info)
    except (OSError, KeyError, TypeError, ValueError, tarfile.TarError):  # absent or damaged: build it
        pass
    kit = build_kit(course, assignment, course_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(kit.blob)
    os.replace(tmp, path)  # whole or not at all, whoever else writes the same kit
    return kit


def _private_files(folder: Path) -> dict[str, str]:
    """Copy the instructor's private data files named by ``course.PRIVATE_DATA_VARIABLES`` (set
    where ``rnn-grade`` runs) into ``folder``; return {variable: SHA-256 of the file}. They travel
    in the kit, so a Dask worker on another machine gets them too; their digests are part of the
    kit's, so a changed file changes every task's digest (a resumed run grades again)."""
    import hashlib

    from .course import PRIVATE_DATA_VARIABLES, PRIVATE_FILE_PREFIX

    found = {}
    for var in PRIVATE_DATA_VARIABLES:
        path = os.environ.get(var)
        if not path:
            continue
        if not Path(path).is_file():
            raise GradingError(f"{var}={path}: no such file")
        data = Path(path).read_bytes()
        folder.mkdir(exist_ok=True)
        (folder / f"{PRIVATE_FILE_PREFIX}{var}").write_bytes(data)
        found[var] = hashlib.sha256(data).hexdigest()
    return found


def _release_sources(db: Path, course_id: str, assignment: str, released: Path) -> None:
    """Give the gradebook's locked cells the released source (no hidden tests), which is
    what nbgrader puts back into a submission before it runs it."""
    import nbformat
    from nbgrader.api import Gradebook

    nb = nbformat.read(released, as_version=4)
    with Gradebook(f"sqlite:///{db}", course_id) as gb:
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("grade_id"):
                continue
            try:
                row = gb.find_source_cell(meta["grade_id"], released.stem, assignment)
            except Exception:  # noqa: BLE001 - MissingEntry: a cell nbgrader does not keep
                continue
            row.source = cell.source
            row.checksum = meta.get("checksum", row.checksum)
        gb.db.commit()


def seed_gradebook(db_url: str, course_id: str, kits: list[Kit]) -> None:
    """Copy each kit's assignment, notebooks and cells into the instructor's gradebook."""
    from nbgrader.api import Gradebook

    for kit in kits:
        with tempfile.TemporaryDirectory(prefix="rnn-grade-seed-") as tmp:
            with tarfile.open(fileobj=io.BytesIO(kit.blob)) as tar:
                tar.extract("gradebook.db", tmp)
            with Gradebook(f"sqlite:///{tmp}/gradebook.db", course_id) as src, \
                    Gradebook(db_url, course_id) as dst:
                a = src.find_assignment(kit.assignment)
                dst.update_or_create_assignment(a.name, duedate=a.duedate)
                for nb in a.notebooks:
                    dst.update_or_create_notebook(nb.name, a.name, kernelspec=nb.kernelspec)
                    for c in nb.grade_cells:
                        dst.update_or_create_grade_cell(c.name, nb.name, a.name, max_score=c.max_score,
                                                        cell_type=c.cell_type)
                    for c in nb.solution_cells:
                        dst.update_or_create_solution_cell(c.name, nb.name, a.name)
                    for c in nb.task_cells:
                        dst.update_or_create_task_cell(c.name, nb.name, a.name, max_score=c.max_score,
                                                       cell_type=c.cell_type)
                    for c in nb.source_cells:
                        dst.update_or_create_source_cell(c.name, nb.name, a.name, cell_type=c.cell_type,
                                                         locked=c.locked, source=c.source, checksum=c.checksum)


# --------------------------------------------------------------------------- one task

def grade_task(task: Task, kit_blob: bytes) -> dict:
    """Grade one submission in a fresh process; return its result. Never raises.

    Runs wherever it is scheduled (a local thread, a Dask worker): the machine running it
    decides whether bubblewrap is usable.
    """
    t0 = time.monotonic()
    base = {"student": task.student, "assignment": task.assignment}
    scratch = Path(tempfile.mkdtemp(prefix="rnn-grade-", dir=task.scratch_base or None))
    try:
        mode, why = ("rlimit", "--no-sandbox") if task.no_sandbox else sandbox.probe()
        if mode != "bwrap" and task.require_sandbox:
            return {**base, "errors": [f"not graded: no sandbox on this machine ({why})"],
                    "infrastructure": True}
        os.chmod(scratch, 0o755)
        with tarfile.open(fileobj=io.BytesIO(kit_blob)) as tar:
            tar.extractall(scratch / "kit", filter="data")
        sub = scratch / "submitted" / task.student / task.assignment
        sub.mkdir(parents=True)
        for rel, data in task.files.items():
            dest = (sub / rel).resolve()
            if not dest.is_relative_to(sub.resolve()):
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        (scratch / "task.json").write_text(json.dumps(task.job(mode)))
        limit = 2 * task.limits["wall_s"] + SETUP_MARGIN_S  # the feedback run, then the scoring run
        returncode = _run_worker(scratch, limit)
        if returncode is None:
            return {**base, "sandbox": mode, "seconds": time.monotonic() - t0,
                    "errors": [f"grading exceeded {limit:.0f} s and was stopped: scored 0"]}
        res_path = scratch / "result.json"
        if not res_path.exists():
            tail = (scratch / "worker.log").read_text(errors="replace")[-2000:]
            return {**base, "sandbox": mode, "infrastructure": True, "seconds": time.monotonic() - t0,
                    "errors": [f"the grading process ended without a result (exit {returncode})"],
                    "log_tail": tail}
        result = json.loads(res_path.read_text())
        if "fatal" in result:
            return {**base, "sandbox": mode, "infrastructure": True, "seconds": time.monotonic() - t0,
                    "errors": ["the grader failed on this submission (see the log)"],
                    "log_tail": result["fatal"]}
        result["seconds"] = time.monotonic() - t0
        result["sandbox_detail"] = why
        return result
    except Exception:  # noqa: BLE001 - one submission's problem must not stop the batch
        return {**base, "infrastructure": True, "errors": ["the grader failed on this submission"],
                "log_tail": traceback.format_exc()[-3000:], "seconds": time.monotonic() - t0}
    finally:
        if task.keep_scratch:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------- the grading process

# What every grading process imports before its first line of work (about 1.2 CPU-s each time):
# a forkserver imports them once per rnn-grade run, and each submission's process is forked from it.
WORKER_PRELOAD = ["rnngrade.worker", "nbgrader.apps.api", "nbgrader.api", "nbgrader.preprocessors",
                  "nbconvert.exporters", "nbconvert.preprocessors", "jupyter_client"]


@functools.cache
def _forkserver():
    """multiprocessing's forkserver with ``WORKER_PRELOAD`` imported, or None where this process
    may not start children of its own (a daemonic process, as a Dask worker is by default)."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return None
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    return ctx


def _forked_worker(scratch: str, env: dict[str, str], coordinator: int) -> None:
    """The grading process, forked from the forkserver: what ``python -m rnngrade.worker SCRATCH``
    does, in a session of its own, with the environment, folder and log it would have had."""
    # multiprocessing hands every child the write end of the pipe whose closing ends the
    # forkserver: without this, a worker would keep the forkserver, and so itself, alive after
    # its coordinator was killed
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    os.setsid()
    fd = os.open(os.path.join(scratch, "worker.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(scratch)
    from . import worker

    # killed with the forkserver, which ends when this run's coordinator does; and if the
    # coordinator was gone before that was in place, stop here
    worker.die_with_parent(parent=None)
    try:
        os.kill(coordinator, 0)
    except ProcessLookupError:
        os._exit(1)
    code = worker.main([scratch])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_worker(scratch: Path, limit: float) -> int | None:
    """Grade the submission in ``scratch`` in a process of its own; its exit status, or None when
    it ran past ``limit`` seconds and was killed with everything it started."""
    env = {**nbgrader_env(), "RNN_GRADE_PARENT": str(os.getpid())}
    ctx = _forkserver()
    if ctx is None:
        with open(scratch / "worker.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "rnngrade.worker", str(scratch)],
                                    stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True, cwd=scratch)
            try:
                return proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                sandbox.kill_group(proc)
                return None
    proc = ctx.Process(target=_forked_worker, args=(str(scratch), env, os.getpid()),
                       name=f"rnn-grade {scratch.name}")
    proc.start()
    proc.join(limit)
    if proc.exitcode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the process and everything it started
        except ProcessLookupError:
            pass
        proc.kill()  # and the process itself, had it not yet made its own session
        proc.join()
        return None
    return proc.exitcode


# --------------------------------------------------------------------------- executors

def run_local(tasks: list[Task], kits: dict[str, Kit], workers: int) -> Iterator[tuple[Task, dict]]:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade") as pool:
        futures = {pool.submit(grade_task, t, kits[t.assignment].blob): t for t in tasks}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:  # the run stopped (disk full, gradebook gone): start nothing more
            for fut in futures:
                fut.cancel()


def run_dask(tasks: list[Task], kits: dict[str, Kit], address: str) -> Iterator[tuple[Task, dict]]:
    from distributed import Client, as_completed

    with Client(address, timeout="30s") as client:
        blobs = {a: client.scatter(k.blob, broadcast=True, hash=False) for a, k in kits.items()}
        futures = [client.submit(grade_task, t, blobs[t.assignment], pure=False, retries=1,
                                 key=f"grade-{t.student}-{t.assignment}-{time.monotonic_ns()}")
                   for t in tasks]
        owner = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for fut, res in as_completed(futures, with_results=True, raise_errors=False):
            t = owner[fut.key]
            if not isinstance(res, dict):  # the task itself failed on the worker (worker lost...)
                res = {"student": t.student, "assignment": t.assignment, "infrastructure": True,
                       "errors": [f"the Dask task failed: {res!r}"[:500]]}
            yield t, res


def default_workers(mem_mb: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
        return max(1, min(cpus, int(avail // (mem_mb + 512))))
    except (ValueError, OSError):
        return cpus


# --------------------------------------------------------------------------- the coordinator

def record(gb, result: dict, timestamp: str | None, names: tuple[str, str] | None = None) -> None:
    """Write one result into the gradebook (one transaction, idempotent).

    ``names``: (first, last) from the download; without them a new student's last name is
    the id (formgrader would list "None, None"). Names already in the gradebook are kept."""
    from nbgrader.api import MissingEntry

    student, assignment = result["student"], result["assignment"]
    try:
        known = gb.find_student(student)
        named = bool(known.first_name or known.last_name)
    except MissingEntry:
        named = False
    if named:
        gb.update_or_create_student(student)
    else:
        first, last = names or ("", student)
        gb.update_or_create_student(student, first_name=first, last_name=last)
    kwargs = {}
    if timestamp:
        from nbgrader.utils import parse_utc

        try:
            kwargs["timestamp"] = parse_utc(timestamp)
        except (ValueError, OverflowError):
            result.setdefault("errors", []).append(f"timestamp.txt: cannot read {timestamp!r}")
    gb.update_or_create_submission(assignment, student, **kwargs)
    for nb_name, data in result.get("notebooks", {}).items():
        for cell, g in data["grades"].items():
            grade = gb.find_grade(cell, nb_name, assignment, student)
            grade.auto_score = g["auto_score"]
            if g["manual_score"] is not None:  # the grader's own override (tampering): 0
                grade.manual_score = g["manual_score"]
            grade.needs_manual_grade = bool(g["needs_manual_grade"] or grade.manual_score is not None)
        for cell, text in data.get("comments", {}).items():
            gb.find_comment(cell, nb_name, assignment, student).auto_comment = text
    gb.db.commit()


def zero_result(task: Task, kit: Kit, errors: list[str]) -> dict:
    """Scores of 0 for every cell, for a submission that produced no result."""
    nbs = {name: {"grades": {gid: {"auto_score": 0.0, "manual_score": None, "needs_manual_grade": False}
                             for gid in spec["grade_cells"]}, "comments": {}}
           for name, spec in kit.info["notebooks"].items()}
    return {"student": task.student, "assignment": task.assignment, "notebooks": nbs, "errors": errors}


def check_feedback(page: str, secrets: set[str], own: set[str]) -> list[str]:
    """Lines of a feedback page that show hidden material (the worker's redaction, checked again)."""

    hidden = secrets - own
    return [line for line in leaks.html_to_text(page).splitlines() if leaks.shows_secret(line, hidden)]


def grade(args) -> int:
    """``rnn-grade``: lock the output folder (and the gradebook), plan (kits, intake,
    gradebook), skip what an earlier run already recorded (``journal.jsonl``; ``--regrade``
    grades everything), run (local pool or Dask), record (the gradebook and the files, one
    submission at a time, as results arrive), report."""
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    db_url = args.db or f"sqlite:///{out / 'gradebook.db'}"
    try:
        with RunLock(out, db_url, args.course_id):
            plan = make_plan(args)
            todo, resumed = resume(plan, out, args)
            results = (run_dask(todo, plan.kits, args.scheduler) if args.scheduler
                       else run_local(todo, plan.kits, plan.workers))
            t0 = time.monotonic()
            try:
                rows, timings, states = record_all(plan, results, out, args, todo=todo, resumed=resumed)
            finally:
                results.close()
            write_reports(plan, rows, timings, time.monotonic() - t0, out, args, states=states)
    except OSError as e:
        if e.errno in DISK_FULL:
            raise GradingError(f"the output folder's disk is full ({e}): free some space and run the same "
                               "command again to resume") from None
        raise
    return 0


def make_plan(args) -> Plan:
    """Everything decided before grading: limits, where it runs, the sandbox, one kit per
    exercise, the submissions (intake), and the gradebook seeded with the exercises graded."""
    course = Path(args.course).resolve()
    out = Path(args.out).resolve()
    for d in ("autograded", "feedback", "submitted"):
        (out / d).mkdir(parents=True, exist_ok=True)
    db_url = args.db or f"sqlite:///{out / 'gradebook.db'}"
    limits = sandbox.Limits(wall_s=args.wall, cell_s=min(args.cell_timeout, args.wall), mem_mb=args.mem,
                            test_s=min(args.test_timeout, args.wall),
                            nproc=args.nproc)
    if not Path(args.submissions).exists():
        raise GradingError(f"{args.submissions}: no such folder or zip file")
    names = args.assignment or discover(course)
    if args.scheduler:
        where, workers = f"Dask cluster at {args.scheduler}", None
    else:
        workers = args.workers or default_workers(args.mem)
        where = f"{workers} local worker(s)"
    mode, why = ("rlimit", "--no-sandbox") if args.no_sandbox else sandbox.probe()
    if mode != "bwrap":
        print("WARNING: submissions run WITHOUT bubblewrap: only memory/CPU/process/file-size limits "
              f"apply; files and network are NOT isolated ({why}).", file=sys.stderr)
        if os.geteuid() == 0 and not sandbox.others_can_run(sys.executable):
            print("WARNING: the kernels also run as root (this Python is not reachable by another user), "
                  "where the process limit does not bind.", file=sys.stderr)
        if args.require_sandbox:
            raise GradingError("--require-sandbox: bubblewrap is not usable here")
    print(f"rnn-grade: {', '.join(names)} from {args.submissions} on {where}; sandbox: {mode} ({why})",
          file=sys.stderr)

    fast_alembic()
    phases, t = {}, time.monotonic()
    cache = args.kit_cache or os.environ.get(KIT_CACHE_ENV)
    kits = {a: cached_kit(course, a, args.course_id, Path(cache) if cache else None) for a in names}
    phases["kits_s"], t = round(time.monotonic() - t, 2), time.monotonic()
    spec = {a: {"notebooks": list(k.info["notebooks"]), "files": k.info["files"]} for a, k in kits.items()}
    try:
        batch = intake.read(Path(args.submissions), spec)
    except (OSError, zipfile.BadZipFile) as e:
        raise GradingError(f"cannot read the submissions: {e}") from None
    tasks = [Task(student=s.student, assignment=s.assignment, files=s.files, errors=s.errors,
                  timestamp=s.timestamp, names=s.names, course_id=args.course_id, limits=limits.__dict__,
                  packages=args.package, no_sandbox=args.no_sandbox, require_sandbox=args.require_sandbox,
                  scratch_base=args.scratch, keep_scratch=args.keep_scratch)
             for s in batch.submissions]
    phases["intake_s"], t = round(time.monotonic() - t, 2), time.monotonic()
    # Only the exercises being graded enter the gradebook: an exercise nobody handed in would
    # otherwise count as a zero for everyone in `nbgrader export` and formgrader's totals.
    graded = set(args.assignment or ()) | {task.assignment for task in tasks}
    seed_gradebook(db_url, args.course_id, [k for a, k in kits.items() if a in graded])
    phases["seed_s"] = round(time.monotonic() - t, 2)
    return Plan(kits=kits, tasks=tasks, secrets={a: set(k.info["secrets"]) for a, k in kits.items()},
                problems=batch.problems, limits=limits, db_url=db_url, where=where, workers=workers,
                mode=mode, why=why, phases=phases)


def record_all(plan: Plan, results: Iterator[tuple[Task, dict]], out: Path, args,
               todo: list[Task] | None = None, resumed: dict | None = None,
               ) -> tuple[list[report.Row], list[dict], dict[str, str]]:
    """Each result into the gradebook and the output folder as it arrives; one report row
    per submission, whatever the submission holds (an error row if it cannot be recorded).

    ``resumed``: the journal entries of submissions an earlier run recorded (not graded
    again; their rows come from the journal). Each recorded submission is appended to
    ``journal.jsonl`` after its gradebook transaction and files. A gradebook that stops
    answering is retried (``--db-wait``); a full disk stops the run: both end with a
    ``GradingError`` saying how to resume."""
    from nbgrader.api import Gradebook
    from tqdm import tqdm

    todo = plan.tasks if todo is None else todo
    resumed = resumed or {}
    rows: list[report.Row] = [row_from_journal(e) for e in resumed.values()]
    states = {f"{s}/{a}": "skipped: recorded by an earlier run" for s, a in resumed}
    timings: list[dict] = []  # per submission: the whole task, and the worker's own phases
    counts = {"ok": 0, "error": 0, "flagged": 0}
    seen: set[tuple[str, str]] = set()
    db = hide_password(plan.db_url)
    wait = getattr(args, "db_wait", DB_WAIT_S)
    with Gradebook(plan.db_url, args.course_id) as gb, \
            tqdm(total=len(todo), unit="notebook", desc="grading", disable=args.quiet) as bar:
        bar.set_postfix_str(_progress(counts, len(resumed)), refresh=False)
        for task, res in results:
            key = (task.student, task.assignment)
            if key in seen:  # delivered twice (e.g. a Dask task run again after its worker was lost)
                print(f"rnn-grade: {task.student} / {task.assignment}: a second result was ignored "
                      "(already recorded in this run)", file=sys.stderr)
                continue
            seen.add(key)
            kit, secrets = plan.kits[task.assignment], plan.secrets[task.assignment]
            if "notebooks" not in res or not res["notebooks"]:
                res = {**zero_result(task, kit, []), **{k: v for k, v in res.items() if k != "notebooks"}}
            stamp = task.timestamp if args.trust_timestamps else None
            try:
                try:  # whatever one submission holds, the others are recorded
                    db_call(gb, wait, record, gb, res, stamp, task.names)
                    row = _write_files(out, task, res, secrets)
                except (GradingError, OSError, KeyboardInterrupt):
                    raise
                except Exception as e:  # noqa: BLE001 - that submission's error row, the batch goes on
                    gb.db.rollback()
                    res = zero_result(task, kit, [
                        f"the grader could not record this submission ({type(e).__name__}): scored 0"])
                    db_call(gb, wait, record, gb, res, None, task.names)
                    row = _write_files(out, replace(task, files={}), res, secrets)
                timing = {"student": task.student, "assignment": task.assignment,
                          "task_s": round(float(res.get("seconds", 0.0)), 3), **res.get("timing", {})}
                again = bool(res.get("infrastructure"))  # the grader's failure, not the student's: retried
                journal_append(out, {"student": task.student, "assignment": task.assignment,
                                      "state": "retry" if again else "recorded", "digest": plan.digests.get(key),
                                      "db": db, "row": row_to_journal(row), "timing": timing})
            except GradingError as e:
                raise GradingError(f"{e}; {len(seen) - 1} of {len(todo)} submission(s) recorded in this run "
                                   f"(and {len(resumed)} earlier): run the same command again to resume") from None
            except OSError as e:
                if e.errno in DISK_FULL:
                    raise GradingError(
                        f"the output folder's disk is full ({e}) while recording {task.student} / "
                        f"{task.assignment}; {len(seen) - 1} of {len(todo)} submission(s) recorded in this run "
                        f"(and {len(resumed)} earlier), each in one transaction: free some space and run the "
                        "same command again to resume") from None
                raise
            rows.append(row)
            timings.append(timing)
            states[f"{task.student}/{task.assignment}"] = (
                "error: graded again by the next run" if again else "graded")
            counts[row.status] += 1
            bar.update(1)
            last = f", last problem: {task.student}" if res.get("errors") else ""
            bar.set_postfix_str(_progress(counts, len(resumed)) + last, refresh=False)
    return rows, timings, states


def _progress(counts: dict[str, int], skipped: int) -> str:
    text = f"ok {counts['ok']}, errors {counts['error']}, flagged {counts['flagged']}"
    return text + (f", skipped {skipped} (recorded earlier)" if skipped else "")


def write_reports(plan: Plan, rows: list[report.Row], timings: list[dict], elapsed: float, out: Path,
                  args, states: dict[str, str] | None = None) -> None:
    """grades.csv, grades_cells.csv, summary.txt/.png, errors.txt, run.json; and the summary
    on the terminal."""
    report.write_csv(rows, out / "grades.csv")
    report.write_cells_csv(rows, out / "grades_cells.csv")
    text = report.summary_text(rows) if rows else "no submissions\n"
    (out / "summary.txt").write_text(text)
    if rows:
        report.write_histograms(rows, out / "summary.png")
    errors = report.error_list(rows, plan.problems)
    (out / "errors.txt").write_text(errors)
    (out / "run.json").write_text(json.dumps({
        "submissions": len(plan.tasks), "seconds": round(elapsed, 2), **plan.phases, "where": plan.where,
        "sandbox": plan.mode, "sandbox_detail": plan.why, "limits": plan.limits.__dict__,
        "db": hide_password(plan.db_url),
        "graded": sum(1 for v in (states or {}).values() if not v.startswith("skipped")),
        "skipped": sum(1 for v in (states or {}).values() if v.startswith("skipped")),
        "states": dict(sorted((states or {}).items())), "timings": timings}, indent=1))
    if not args.quiet:
        print(text, end="")
        skipped = sum(1 for v in (states or {}).values() if v.startswith("skipped"))
        print(f"graded {len(plan.tasks) - skipped} submission(s) in {elapsed:.1f} s"
              + (f" ({skipped} recorded earlier, not graded again)" if skipped else "") + f" -> {out}",
              file=sys.stderr)
        if errors:
            print("\nproblems, per student:\n" + errors, end="")
    unsandboxed = [r for r in rows if r.sandbox and r.sandbox != "bwrap"]
    if unsandboxed and plan.mode == "bwrap":
        print(f"WARNING: {len(unsandboxed)} submission(s) ran without bubblewrap on their worker",
              file=sys.stderr)


def _write_files(out: Path, task: Task, res: dict, secrets: set[str]) -> report.Row:
    student, assignment = task.student, task.assignment
    sub = out / "submitted" / student / assignment
    if sub.exists():
        shutil.rmtree(sub)
    for rel, data in task.files.items():
        dest = (sub / rel).resolve()
        if dest.is_relative_to(sub.resolve()):
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
    own = set()
    for rel, data in task.files.items():
        if rel.endswith(".ipynb"):
            own |= {leaks.normalise(x) for x in _notebook_lines(data)}
    errors = list(res.get("errors", []))
    for name, nb_text in res.get("autograded", {}).items():
        dest = out / "autograded" / student / assignment / f"{name}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(nb_text)
    for name, page in res.get("feedback", {}).items():
        dest = out / "feedback" / student / assignment / f"{name}.html"
        dest.parent.mkdir(parents=True, exist_ok=True)
        leaked = check_feedback(page, secrets, own)
        if leaked:  # never ship it: the worker's redaction missed something
            errors.append(f"{name}: feedback withheld, it contained hidden material ({len(leaked)} line(s))")
            page = "<!DOCTYPE html><html><body><p>Feedback is being reviewed by the instructor.</p></body></html>"
        dest.write_text(page)
    score = max_score = 0.0
    cells = {}
    for nb_name, data in res.get("notebooks", {}).items():
        for cell, g in data["grades"].items():
            s = g["manual_score"] if g["manual_score"] is not None else (g["auto_score"] or 0.0)
            mx = g.get("max_score") or 0.0
            cells[f"{nb_name}/{cell}"] = (float(s), float(mx))
            score += float(s)
            max_score += float(mx)
    if res.get("log_tail"):
        (out / "logs").mkdir(exist_ok=True)
        (out / "logs" / f"{student}__{assignment}.log").write_text(res["log_tail"])
    return report.Row(student=student, assignment=assignment, score=points.rounded(score),
                      max_score=points.rounded(max_score), cells=cells, flags=list(res.get("flags", [])),
                      errors=errors, sandbox=res.get("sandbox", ""), seconds=float(res.get("seconds", 0.0)))


def _notebook_lines(data: bytes) -> list[str]:
    try:
        nb = json.loads(data)
        return [ln for c in nb.get("cells", []) for ln in "".join(c.get("source", "")).splitlines()]
    except (ValueError, AttributeError, TypeError, RecursionError):
        return []


# --------------------------------------------------------------------------- command line

EPILOG = """\
accepted layouts of SUBMISSIONS:
  folder   <folder>/<student>/<assignment>/<notebook>.ipynb (+ checkpoint files beside it);
           nbgrader's <folder>/submitted/<student>/... too
  zip      the same tree zipped (optionally under one top folder)
  LMS zip  flat entries <student>_<anything>_<notebook>.ipynb and <student>_<anything>_<file>
           (<student> = text before the first '_'; Canvas' -1/-2 resubmission suffixes dropped)

outputs under --out: gradebook.db (unless --db), autograded/, feedback/, submitted/,
grades.csv (flags column), grades_cells.csv, summary.txt, summary.png, errors.txt, run.json,
journal.jsonl (what is recorded: running the same command again resumes; --regrade grades all)

examples:
  rnn-grade class.zip                                 # local pool, one worker per core
  rnn-grade submissions/ --db postgresql://u@host/rnn --workers 8
  rnn-grade submissions/ --scheduler tcp://10.0.0.5:8786   # Dask workers need this course's venv
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnn-grade", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Grade a class's exercise notebooks with nbgrader: in parallel (local pool or Dask), "
                    "each submission in a sandbox (bubblewrap), feedback without hidden tests.")
    p.add_argument("submissions", help="a folder of submissions or a zip (see the layouts below)")
    p.add_argument("--course", help="the course folder holding solutions/ (default: the current "
                   "folder if it has solutions/, else the checkout this grader comes from)")
    p.add_argument("--out", default="grading", help="output folder (default: ./grading)")
    p.add_argument("--db", help="SQLAlchemy URL of the gradebook (default: sqlite:///<out>/gradebook.db)")
    p.add_argument("--assignment", action="append", help="grade only this assignment (repeatable; "
                   "default: every folder of solutions/)")
    p.add_argument("--workers", type=int, help="submissions graded at once on this machine, each in "
                   "its own process (default: one per core, fewer if memory is short)")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786): grade on that cluster")
    p.add_argument("--wall", type=float, default=contract.GRADER_WALL_S,
                   help=f"wall-time limit per notebook, s (default {contract.GRADER_WALL_S})")
    p.add_argument("--cell-timeout", type=float, default=contract.GRADER_CELL_S,
                   help=f"time limit per cell, s (default {contract.GRADER_CELL_S})")
    p.add_argument("--mem", type=int, default=8192, help="address-space limit per kernel, MiB (default 8192; torch reserves much more address space than it uses)")
    p.add_argument("--nproc", type=int, default=64, help="processes+threads per sandbox (default 64)")
    p.add_argument("--package", action="append", default=None,
                   help="a package the notebooks import that the sandbox must see "
                        f"(default: {', '.join(DEFAULT_PACKAGES)})")
    p.add_argument("--course-id", default=contract.COURSE_ID,
                   help=f"nbgrader course id (default {contract.COURSE_ID})")
    p.add_argument("--test-timeout", type=float, default=contract.GRADER_TEST_S,
                   help=f"time limit per test case of the scoring run, s (default {contract.GRADER_TEST_S})")
    p.add_argument("--trust-timestamps", action="store_true", help="take a submission's timestamp.txt as "
                   "its submission time (off by default: a student can write that file)")
    p.add_argument("--no-sandbox", action="store_true", help="do not use bubblewrap (limits only)")
    p.add_argument("--require-sandbox", action="store_true", help="refuse to grade without bubblewrap")
    p.add_argument("--scratch", help="folder for the per-submission scratch folders (default: $TMPDIR)")
    p.add_argument("--keep-scratch", action="store_true", help="keep scratch folders (debugging)")
    p.add_argument("--kit-cache", help="folder where each exercise's grading kit is kept and found again "
                   f"by what it is made from (default: ${KIT_CACHE_ENV}, else none: built every run)")
    p.add_argument("--regrade", action="store_true", help="grade every submission again (default: "
                   "submissions this --out folder's journal.jsonl says were recorded, unchanged, are skipped)")
    p.add_argument("--db-wait", type=float, default=DB_WAIT_S, help="seconds to keep trying when the "
                   f"gradebook stops answering before stopping (default {DB_WAIT_S:g}); results are kept meanwhile")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    return p


def main(argv: list[str] | None = None) -> int:
    sys.modules.setdefault("rfc3987_syntax", None)  # see rnngrade/worker.py
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's SQLAlchemy noise
    # nbgrader logs a traceback for each database error it re-raises as InvalidEntry; the
    # grader says what happened (a submission's error row, or why it stopped)
    logging.getLogger("tornado.application").addFilter(
        lambda r: not str(r.msg).startswith("Rolling back session due to database error"))
    args = parser().parse_args(argv)
    args.package = args.package or list(DEFAULT_PACKAGES)
    if not args.course:
        args.course = "." if Path("solutions").is_dir() else str(contract.ROOT)
    os.environ["PATH"] = nbgrader_env()["PATH"]  # nbgrader's Gradebook runs `alembic` for a new database
    try:
        return grade(args)
    except GradingError as e:
        print(f"rnn-grade: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # `python -m rnngrade.batch`: run the module's own functions, so that Dask pickles grade_task
    # by name, not this __main__ copy by value (with the forkserver it reaches)
    from rnngrade.batch import main as _main

    sys.exit(_main())
