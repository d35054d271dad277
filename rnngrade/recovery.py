"""What lets ``rnn-grade`` survive faults (docs/grading.md, "Faults and resuming").

* ``journal.jsonl`` in the output folder: one line per recorded submission, appended after
  its gradebook transaction and its files. ``resume`` skips a submission a re-run finds
  recorded there with the same ``task_digest`` (submission bytes, kit, limits, names) and
  the same gradebook, and really in the gradebook; ``--regrade`` grades everything.
* ``RunLock``: one run at a time per output folder and per gradebook.
* ``db_call``: a gradebook that stops answering is retried with backoff for ``--db-wait``
  seconds; a full disk becomes ``OSError(ENOSPC)`` and stops the run with a resume message.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import report
from .course import hide_password

if TYPE_CHECKING:
    from .batch import Plan, Task


class GradingError(RuntimeError):
    """A problem that stops the whole run (bad arguments, no sandbox, a gradebook gone for
    good, a full disk); its message is printed without a traceback."""


DB_WAIT_S = 300.0  # how long a gradebook that stops answering is waited for (--db-wait)
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
JOURNAL = "journal.jsonl"


def db_call(gb, wait_s: float, fn, *fn_args):
    """``fn(*fn_args)`` (one gradebook transaction); while the database does not answer (a server
    restarting, a connection dropped, SQLite busy), roll back and try again with backoff for
    up to ``wait_s`` seconds, then raise ``GradingError``. SQLite's "disk is full" is raised
    as ``OSError(ENOSPC)``: no wait helps it."""
    from nbgrader.api import InvalidEntry
    from sqlalchemy import exc

    unavailable = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError)
    delay, t0 = 0.5, time.monotonic()
    while True:
        try:
            return fn(*fn_args)
        except (*unavailable, InvalidEntry) as err:
            # nbgrader's add_* re-raise the database's error as InvalidEntry: look underneath
            e = err.__context__ if isinstance(err, InvalidEntry) else err
            if not isinstance(e, unavailable):
                raise
            try:
                gb.db.rollback()
            except exc.SQLAlchemyError:
                pass
            why = " ".join(str(getattr(e, "orig", None) or e).split())[:300]
            if "disk is full" in why or "No space left" in why:
                raise OSError(errno.ENOSPC, f"the gradebook: {why}") from None
            left = wait_s - (time.monotonic() - t0)
            if left <= 0:
                raise GradingError(f"the gradebook has not answered for {wait_s:g} s ({why})") from None
            print(f"rnn-grade: the gradebook is unavailable ({why}); the result is kept, trying again in "
                  f"{min(delay, left):.1f} s", file=sys.stderr, flush=True)
            time.sleep(min(delay, left))
            delay = min(2 * delay, 10.0)


def task_digest(task: Task, kit_digest: str, trust_timestamps: bool) -> str:
    """What a grade depends on: the submission's bytes, the intake's errors, the kit (the
    exercise as released, its hidden tests), the limits and packages, the timestamp believed
    and the names. A resumed run skips a submission only if this is unchanged."""
    h = hashlib.sha256(json.dumps({
        "kit": kit_digest, "limits": task.limits, "packages": task.packages, "errors": task.errors,
        "timestamp": task.timestamp if trust_timestamps else None, "names": task.names,
        "no_sandbox": task.no_sandbox}, sort_keys=True, default=str).encode())
    for rel in sorted(task.files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(task.files[rel]).digest())
    return h.hexdigest()


def read_journal(out: Path) -> dict[tuple[str, str], dict]:
    """The last journal entry of each submission (a line cut short by a kill is ignored)."""
    entries = {}
    try:
        lines = (out / JOURNAL).read_text().splitlines()
    except FileNotFoundError:
        return entries
    for line in lines:
        try:
            e = json.loads(line)
            entries[(e["student"], e["assignment"])] = e
        except (ValueError, KeyError, TypeError):
            continue
    return entries


def journal_append(out: Path, entry: dict) -> None:
    with open(out / JOURNAL, "a") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def row_to_journal(row: report.Row) -> dict:
    return {**row.__dict__, "cells": {k: list(v) for k, v in row.cells.items()}}


def row_from_journal(entry: dict) -> report.Row:
    r = dict(entry["row"])
    r["cells"] = {k: tuple(v) for k, v in r.get("cells", {}).items()}
    return report.Row(**r)


def resume(plan: Plan, out: Path, args) -> tuple[list[Task], dict[tuple[str, str], dict]]:
    """Split the plan's tasks into those to grade and those an earlier run into this output
    folder already recorded (journal entry "recorded", same digest, same gradebook, and the
    submission really in the gradebook). ``--regrade``: grade everything."""
    kit_digests = {a: hashlib.sha256(json.dumps(k.info, sort_keys=True).encode()).hexdigest()
                   for a, k in plan.kits.items()}
    plan.digests = {(t.student, t.assignment): task_digest(t, kit_digests[t.assignment], args.trust_timestamps)
                    for t in plan.tasks}
    if getattr(args, "regrade", False):
        return plan.tasks, {}
    journal, db = read_journal(out), hide_password(plan.db_url)
    done = {}
    for t in plan.tasks:
        key = (t.student, t.assignment)
        e = journal.get(key)
        if e and e.get("state") == "recorded" and e.get("digest") == plan.digests[key] and e.get("db") == db:
            done[key] = e
    if done:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(plan.db_url, args.course_id) as gb:
            for student, assignment in list(done):
                try:
                    gb.find_submission(assignment, student)
                except MissingEntry:
                    del done[(student, assignment)]
    todo = [t for t in plan.tasks if (t.student, t.assignment) not in done]
    if done:
        print(f"rnn-grade: resuming: {len(done)} submission(s) already recorded by an earlier run into {out} "
              f"are not graded again (--regrade grades them again); {len(todo)} to grade", file=sys.stderr)
    return todo, done


class RunLock:
    """One ``rnn-grade`` at a time per output folder and per gradebook: an advisory lock
    (``flock``) on ``<out>/.lock`` and, for an SQLite gradebook elsewhere, on ``<db>.lock``;
    for PostgreSQL a session advisory lock (``pg_try_advisory_lock``) held by a connection
    of its own. A second run refuses at once with the holder's pid; the kernel drops a
    lock when its process ends, however it ends."""

    def __init__(self, out: Path, db_url: str, course_id: str):
        self.paths = [out / ".lock"]
        if db_url.startswith("sqlite:///") and db_url != "sqlite:///:memory:":
            db = Path(db_url[len("sqlite:///"):]).resolve()
            self.paths.append(db.parent / f"{db.name}.lock")  # the same file whatever --out is
        self.db_url, self.course_id = db_url, course_id
        self.files, self.conn = [], None

    def __enter__(self) -> RunLock:
        import fcntl

        try:
            for path in self.paths:
                path.parent.mkdir(parents=True, exist_ok=True)
                f = open(path, "a+")  # noqa: SIM115 - held until __exit__
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    f.seek(0)
                    holder = f.read().strip() or "holder unknown"
                    f.close()
                    what = "output folder" if path.name == ".lock" else "gradebook"
                    raise GradingError(f"another rnn-grade is using this {what} ({path}: {holder}); wait for it "
                                       "to finish (nothing was changed), or use another --out/--db") from None
                f.seek(0)
                f.truncate()
                f.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                f.flush()
                self.files.append(f)
            if self.db_url.startswith(("postgresql", "postgres://")):
                self._pg_lock()
        except BaseException:
            self.__exit__()
            raise
        return self

    @staticmethod
    def pg_key(course_id: str) -> int:
        """The PostgreSQL advisory lock's key: one per course id."""
        import zlib

        return zlib.crc32(f"rnn-grade {course_id}".encode())

    def _pg_lock(self) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        key = self.pg_key(self.course_id)
        self.conn = create_engine(self.db_url, poolclass=NullPool).connect()
        if not self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            raise GradingError(f"another rnn-grade is writing into this gradebook ({hide_password(self.db_url)}, "
                               f"course {self.course_id}); wait for it to finish (nothing was changed)")
        self.conn.commit()  # the lock belongs to the session, not to a transaction

    def __exit__(self, *exc) -> None:
        for f in self.files:
            f.close()
        self.files = []
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - a server gone since: its lock went with it
                pass
            self.conn = None


