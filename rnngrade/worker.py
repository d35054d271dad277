"""Grade ONE submission in a fresh process: ``main([SCRATCH])``.

Started by ``rnngrade.batch.grade_task`` (on the local pool or on a Dask worker), never
by hand: forked from the run's forkserver (``rnngrade.batch._run_worker``), or as
``python -m rnngrade.worker SCRATCH`` where the caller may not fork (a daemonic Dask worker). Everything here is the instructor's code; the student's code runs only inside the
Jupyter kernel, which the kernelspec written below starts through ``rnngrade/sandbox.py``.

SCRATCH holds ``task.json``, the grading kit of the assignment (``kit/``: a scratch
gradebook seeded by ``nbgrader generate_assignment``, and ``kit.json``) and the submission
(``submitted/<student>/<assignment>/``). The steps:

1. check each expected notebook: present, valid JSON (else a clear error, 0 points);
2. scan the student's code cells (``integrity.scan_source``);
3. copy the submission's files to ``run/``, the kernel's only writable folder, and run
   ``nbgrader autograde`` in this process with the sandboxed kernel (nbgrader restores
   locked and deleted test cells; a cell's time limit, and one for the whole notebook);
4. verify each test cell: a positive score counts only with ``run_tests``' report, whose
   test names and score agree with the instructor's cell; runtime TAMPERING notes;
5. apply the policy: a ``tamper`` finding sets every grade of the notebook to 0 (as
   nbgrader's manual score, so an instructor can review and override it in formgrader);
6. write feedback HTML (hidden tests removed, any secret line redacted, a notice on top);
7. write ``result.json`` with the scores, flags, errors, the autograded notebook and the
   feedback, for the coordinating process, which alone writes the real gradebook.
"""

from __future__ import annotations

import sys

# jsonschema (via nbformat) would compile rfc3987-syntax's IRI grammar at import: seconds per
# graded notebook, for a format check notebooks never use
sys.modules.setdefault("rfc3987_syntax", None)

import json  # noqa: E402
import os  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402

from autograder import integrity  # noqa: E402
from autograder.points import cell_points  # noqa: E402

from . import public_data, sandbox  # noqa: E402
from .leaks import normalise, shows_secret  # noqa: E402

CELL_OUTPUT_CAP = 512 * 2**10  # bytes of outputs kept per cell of the feedback run
NOTEBOOK_OUTPUT_CAP = 4 * 2**20
REDACTED = "[line removed from feedback: it matches the instructor's hidden material]"


class WallTimeExceeded(RuntimeError):
    pass


# --------------------------------------------------------------------------- nbgrader hooks

MESSAGE_CAP = 8 * 2**20  # a kernel message larger than this is refused by zmq before it is read


def _capped_client_class():
    """The kernel client of the feedback run: its sockets refuse any message over MESSAGE_CAP
    (zmq drops the connection instead of reading it into this process's memory; the cell's
    output then ends with nbclient's time-out note)."""
    import zmq
    import zmq.asyncio
    from jupyter_client.asynchronous import AsyncKernelClient

    class CappedKernelClient(AsyncKernelClient):
        def _context_default(self):
            self._created_context = True
            ctx = zmq.asyncio.Context()
            ctx.setsockopt(zmq.MAXMSGSIZE, MESSAGE_CAP)
            return ctx

    return CappedKernelClient


def _within(seconds: float, fn, *args):
    """fn(*args), interrupted by WallTimeExceeded after ``seconds`` (this process's main thread)."""
    def stop(signum, frame):
        raise WallTimeExceeded()

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _lock_ipc_dir(path: str) -> None:
    """Once the kernel has bound its sockets, it needs nothing more of the connection folder
    (the one host folder the sandbox mounts writable): as root, take it back, so the kernel
    cannot fill the host's disk through it. (Run as an ordinary user, the kernel has our uid.)"""
    if path and os.geteuid() == 0 and os.path.isdir(path):
        os.chown(path, 0, 0)
        os.chmod(path, 0o755)


def _message_size(content) -> int:
    """Bytes of text an output message carries (its strings, however nested)."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, dict):
        return sum(_message_size(v) for v in content.values())
    if isinstance(content, list | tuple):
        return sum(_message_size(v) for v in content)
    return 8


def _sandbox_execute_class():
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbgrader.preprocessors import Execute

    class SandboxExecute(Execute):
        """nbgrader's Execute with the kernel's cwd in run/, a deadline, and graceful stops.

        When the kernel dies (``os._exit``, a crash, the memory limit) or stops answering,
        the cells that did not run get an error output (0 points) and grading goes on with
        what did run, instead of nbgrader's all-or-nothing failure.
        """

        run_dir: str = ""
        ipc_dir: str = ""
        deadline: float = 0.0
        cell_limit: int = 60
        events: list[str] = []
        phases: dict[str, float] = {}  # kernel start-up and cell execution seconds, for run.json
        t_start: float = 0.0
        t_cells: float = 0.0
        t_last: float = 0.0

        async def async_start_new_kernel(self, **kwargs):
            kwargs["cwd"] = SandboxExecute.run_dir
            return await super().async_start_new_kernel(**kwargs)

        start_new_kernel = run_sync(async_start_new_kernel)

        def preprocess_cell(self, cell, resources, index):
            remaining = SandboxExecute.deadline - time.monotonic()
            if remaining <= 1:
                raise WallTimeExceeded()
            self.timeout = int(max(1, min(SandboxExecute.cell_limit, remaining)))
            if "kernel_start_s" not in SandboxExecute.phases:  # the first cell: the kernel is up
                SandboxExecute.phases["kernel_start_s"] = round(time.monotonic() - SandboxExecute.t_start, 3)
                SandboxExecute.t_cells = time.monotonic()
                _lock_ipc_dir(SandboxExecute.ipc_dir)
            out = super().preprocess_cell(cell, resources, index)
            SandboxExecute.t_last = time.monotonic()
            self._done.add(index)
            return out

        def output(self, outs, msg, display_id, cell_index):
            """Keep at most CELL_OUTPUT_CAP bytes of a cell's outputs (and NOTEBOOK_OUTPUT_CAP
            of the notebook's) in memory; past that, one note says what was cut."""
            size = _message_size(msg.get("content", {}))
            cell_used = self._cell_bytes.get(cell_index, 0)
            if size + cell_used > CELL_OUTPUT_CAP or size + self._nb_bytes > NOTEBOOK_OUTPUT_CAP:
                if cell_index not in self._cut:
                    self._cut.add(cell_index)
                    outs.append(nbformat.v4.new_output("stream", name="stdout", text=(
                        f"[output cut by the grader: a cell may print {CELL_OUTPUT_CAP // 2**10} KiB, "
                        f"a notebook {NOTEBOOK_OUTPUT_CAP // 2**20} MiB]\n")))
                return None
            self._cell_bytes[cell_index] = cell_used + size
            self._nb_bytes += size
            return super().output(outs, msg, display_id, cell_index)

        def preprocess(self, nb, resources, km=None):
            self._done = set()
            self._cell_bytes, self._nb_bytes, self._cut = {}, 0, set()
            SandboxExecute.t_start = SandboxExecute.t_cells = time.monotonic()
            try:
                done = super().preprocess(nb, resources, km=km)
                SandboxExecute.phases["cells_s"] = round(SandboxExecute.t_last - SandboxExecute.t_cells, 3)
                SandboxExecute.phases["kernel_stop_s"] = round(time.monotonic() - SandboxExecute.t_last, 3)
                return done
            except DeadKernelError:
                why = "the kernel died (os._exit, a crash, or the memory limit)"
            except CellTimeoutError:
                why = "the kernel stopped responding after a cell's time limit"
            except WallTimeExceeded:
                why = "the notebook's wall-time limit was reached"
            except RuntimeError as e:  # e.g. "Kernel died before replying to kernel_info"
                if self._done:
                    why = f"the kernel failed: {e}"
                else:
                    raise
            SandboxExecute.events.append(why)
            SandboxExecute.phases["cells_s"] = round(time.monotonic() - SandboxExecute.t_cells, 3)
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code" and i not in self._done:
                    cell.outputs = [nbformat.v4.new_output(
                        "error", ename="NotRun", evalue=why,
                        traceback=[f"NotRun: this cell did not run: {why}"])]
            return nb, resources

    return SandboxExecute


def _redact_class():
    from nbgrader.preprocessors import NbGraderPreprocessor

    class RedactSecrets(NbGraderPreprocessor):
        """Remove any line of the instructor's hidden material from sources and outputs,
        and put the grader's notice (flags, errors) at the top of the feedback."""

        secrets: set[str] = set()
        notice: str = ""
        redacted: int = 0

        def preprocess(self, nb, resources):
            nb, resources = super().preprocess(nb, resources)
            if RedactSecrets.notice:
                nb.cells.insert(0, nbformat.v4.new_markdown_cell(RedactSecrets.notice))
            return nb, resources

        def preprocess_cell(self, cell, resources, index):
            cell.source = self._clean(cell.source)
            for out in cell.get("outputs", []):
                if "text" in out:
                    out["text"] = self._clean(out["text"])
                if "traceback" in out:
                    out["traceback"] = [self._clean(t) for t in out["traceback"]]
                if "evalue" in out:
                    out["evalue"] = self._clean(out["evalue"])
                for mime, value in list(out.get("data", {}).items()):
                    if isinstance(value, str):
                        out["data"][mime] = self._clean(value)
            return cell, resources

        def _clean(self, text: str) -> str:
            if not isinstance(text, str):
                return text
            lines = text.split("\n")
            for i, line in enumerate(lines):
                if shows_secret(line, RedactSecrets.secrets):
                    lines[i] = REDACTED
                    RedactSecrets.redacted += 1
            return "\n".join(lines)

    return RedactSecrets


# what tracebacks put before a source line: IPython's "---> 12 " / "     12 ", pytest's ">   ", "E   "
# --------------------------------------------------------------------------- steps

def check_notebooks(sub_dir: Path, kit: dict) -> tuple[dict[str, nbformat.NotebookNode], list[str]]:
    """Valid expected notebooks by name, and errors (missing, renamed, invalid JSON)."""
    errors, valid = [], {}
    expected = list(kit["notebooks"])
    present = {p.stem: p for p in sub_dir.glob("*.ipynb")} if sub_dir.is_dir() else {}
    for name in expected:
        path = present.get(name)
        if path is None:
            others = sorted(f"{s}.ipynb" for s in present if s not in kit["notebooks"])
            hint = f"; found {', '.join(others)}: rename it to {name}.ipynb" if others else ""
            errors.append(f"{name}.ipynb: missing, scored 0{hint}")
            continue
        try:
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
        except Exception as e:  # noqa: BLE001 - any parse error is the student's, reported
            msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            errors.append(f"{name}.ipynb: not a valid notebook ({msg}), scored 0")
            path.unlink()
            continue
        valid[name] = nb
    return valid, errors


def static_flags(nb: nbformat.NotebookNode, info: dict) -> list[integrity.Finding]:
    """Findings in the cells a student could have written (not the locked ones nbgrader restores)."""
    locked = set(info["locked"])
    findings = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in locked:
            continue
        findings += integrity.scan_source(cell.source, aliases=info["aliases"],
                                          protected=info["protected"], cell=gid or f"cell {i + 1}")
    return findings


def cell_score(cell: dict | None, points: float) -> float:
    """points x passed / total over the scoring run's test cases (0 when the cell did not run)."""
    tests = (cell or {}).get("tests", [])
    return cell_points(points, sum(t["outcome"] == "passed" for t in tests), len(tests))


OUTPUT_CAP = 4 * 2**20  # bytes of a graded notebook kept; the rest of its outputs is cut


def _capped_text(path: Path) -> str:
    """The autograded notebook, its outputs cut (with a note) if it is larger than OUTPUT_CAP."""
    if path.stat().st_size <= OUTPUT_CAP:
        return path.read_text()
    nb = nbformat.read(path, as_version=4)
    budget = OUTPUT_CAP // 2
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            size = len(json.dumps(out))
            if size > budget:
                out.clear()
                out.update(nbformat.v4.new_output("stream", name="stdout", text=(
                    "[output removed by the grader: over its size limit]\n")))
            else:
                budget -= size
    text = nbformat.writes(nb)
    path.write_text(text)
    return text


def _add_scores_to_notebook(path: Path, report: dict) -> None:
    """Under each test cell, what the scoring run found: each test's name and pass/fail."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        res = report.get("cells", {}).get(gid)
        if cell.cell_type != "code" or res is None:
            continue
        tests = res["tests"]
        passed = sum(t["outcome"] == "passed" for t in tests)
        lines = [f"Graded (a separate run of all tests, hidden ones included): {passed}/{len(tests)} "
                 f"tests passed -> {cell_score(res, res['points']):g} / {res['points']:g} points"]
        for t in tests:
            mark = "PASS" if t["outcome"] == "passed" else "FAIL"
            why = "" if t["outcome"] in ("passed", "failed") else f" ({t['outcome']}: {t['why']})"
            lines.append(f"  [{mark}] {t['name']}{' (hidden test)' if t['hidden'] else ''}{why}")
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines) + "\n"))
    nbformat.write(nb, path)


def score_notebook(scratch: Path, task: dict, kit: dict, name: str, nb: nbformat.NotebookNode,
                   limits: sandbox.Limits) -> dict:
    """The scoring run of one notebook (``rnngrade.cleanroom``) in its own sandbox.

    Its folder holds only the release's data files and the submission's checkpoint files;
    its report comes back through a pipe that no test process holds, capped in bytes.
    """
    import fnmatch

    from .cleanroom import scoring_input

    assignment = task["assignment"]
    work, inputs = scratch / "score" / name, scratch / "score-in"
    work.mkdir(parents=True)
    inputs.mkdir(exist_ok=True)
    os.chmod(work, 0o755)
    os.chmod(inputs, 0o755)
    (inputs / f"{name}.json").write_text(json.dumps(
        {"cells": scoring_input(kit["notebooks"][name]["scoring"], json.loads(nbformat.writes(nb)))}))
    data = scratch / "kit" / "source" / assignment
    if data.is_dir():
        shutil.copytree(data, work, dirs_exist_ok=True, symlinks=False)
    sub_dir = scratch / "submitted" / task["student"] / assignment
    patterns = kit["notebooks"][name].get("checkpoints", [])
    for f in sub_dir.iterdir() if sub_dir.is_dir() else []:
        if f.is_file() and not f.is_symlink() and any(fnmatch.fnmatch(f.name, p) for p in patterns):
            shutil.copyfile(f, work / f.name)
    # the scoring run is the grader's own code (rnngrade.cleanroom); the student's kernel, in
    # the feedback run, sees only the course's packages (task["packages"])
    packages = package_dirs([*task["packages"], "rnngrade"])
    from .cleanroom import PRIVATE_FILES_ENV

    private = private_files(scratch)  # and the test processes' guard refuses the student every open of them
    env = {**private, PRIVATE_FILES_ENV: os.pathsep.join(private.values())} if private else {}
    policy = sandbox.Policy(
        mode=task["mode"], workdir=str(work), ipc_dir=str(work), limits=limits,
        ro_paths=sandbox.python_ro_paths() + packages + [str(inputs)] + sorted({os.path.dirname(p) for p in private.values()}),
        pythonpath=sorted({os.path.dirname(p) for p in packages}), uid=sandbox.sandbox_uid(), env=env)
    pol_path = scratch / f"policy-score-{name}.json"
    policy.dump(pol_path)
    r, w = os.pipe()
    cmd = [sys.executable, "-I", "-S", sandbox.__file__, "launch", str(pol_path), "--",
           sys.executable, "-I", "-m", "rnngrade.cleanroom", str(inputs / f"{name}.json"), str(w),
           str(limits.test_s)]
    with open(scratch / f"scoring-{name}.log", "wb") as log:
        proc = subprocess.Popen(cmd, pass_fds=[w], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=work)
    os.close(w)
    deadline = time.monotonic() + limits.wall_s
    chunks, size, why = [], 0, ""
    with os.fdopen(r, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                why = f"the scoring run did not finish within {limits.wall_s:g} s"
                break
            ready, _, _ = select.select([pipe], [], [], left)
            if not ready:
                continue
            chunk = pipe.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > REPORT_CAP:
                why = "the scoring run's report was too large"
                break
            chunks.append(chunk)
    if why:
        sandbox.kill_group(proc)
    else:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sandbox.kill_group(proc)
    if why:
        return {"cells": {}, "errors": [why + ": the test cells score 0"]}
    try:
        report = json.loads(b"".join(chunks))
    except ValueError:
        tail = (scratch / f"scoring-{name}.log").read_text(errors="replace")[-1500:]
        return {"cells": {}, "errors": ["the scoring run ended without a report: the test cells score 0"],
                "log_tail": tail}
    return report


REPORT_CAP = 4 * 2**20


def private_files(scratch: Path) -> dict[str, str]:
    """The kit's private data files (``batch._private_files``): {variable: path}, readable by the
    sandbox's user. Only the scoring run gets them (its cells load, and read them, before any
    student code runs); the student's kernel in the feedback run never does, so the feedback
    shows the public split's numbers."""
    from .course import PRIVATE_FILE_PREFIX

    folder = scratch / "kit" / "private"
    files = sorted(folder.glob(f"{PRIVATE_FILE_PREFIX}*")) if folder.is_dir() else []
    if files:
        os.chmod(folder, 0o755)
    for f in files:
        os.chmod(f, 0o644)
    return {f.name.removeprefix(PRIVATE_FILE_PREFIX): str(f) for f in files}


# --------------------------------------------------------------------------- main

def run(scratch: Path) -> dict:
    t0 = time.monotonic()
    task = json.loads((scratch / "task.json").read_text())
    kit = json.loads((scratch / "kit" / "kit.json").read_text())
    student, assignment = task["student"], task["assignment"]
    limits = sandbox.Limits(**task["limits"])
    sub_dir = scratch / "submitted" / student / assignment
    result = {"student": student, "assignment": assignment, "errors": list(task.get("intake_errors", [])),
              "flags": [], "notebooks": {}, "autograded": {}, "feedback": {}, "timing": {},
              "sandbox": task["mode"]}

    valid, errors = check_notebooks(sub_dir, kit)
    result["errors"] += errors
    tamper: dict[str, list[str]] = {}

    from nbgrader.api import Gradebook

    db_url = f"sqlite:///{scratch / 'kit' / 'gradebook.db'}"
    events: list[str] = []
    if valid:
        t1 = time.monotonic()
        try:
            ok, log, events, phases = _within(limits.wall_s + 30, _autograde, scratch, task, limits)
        except WallTimeExceeded:  # the kernel's channels hang (a notebook that wrote into them)
            ok, log, events, phases = True, "", [f"the feedback run did not finish within "
                                                 f"{limits.wall_s + 30:g} s"], {}
        result["timing"]["autograde_s"] = round(time.monotonic() - t1, 3)
        result["timing"].update(phases)
        if not ok:
            result["errors"].append("nbgrader autograde failed: " + _log_error(log))
            result["log_tail"] = "\n".join(log.splitlines()[-40:])
    result["errors"] += [f"{e}: the cells after it did not run in the feedback run (your points come "
                         "from the grader's separate run of the tests)" for e in events]

    graded_dir = scratch / "autograded" / student / assignment
    scores: dict[str, dict] = {}
    for name in valid:
        path = graded_dir / f"{name}.ipynb"
        # the code that ran: after nbgrader restored the locked cells (else as submitted)
        nb = nbformat.read(path, as_version=4) if path.exists() else valid[name]
        for f in static_flags(nb, kit["notebooks"][name]):
            result["flags"].append(f"{name}: {f}")
            if f.severity == "tamper":
                tamper.setdefault(name, []).append(str(f))
        t1 = time.monotonic()
        report = score_notebook(scratch, task, kit, name, valid[name], limits)
        result["timing"]["scoring_s"] = round(result["timing"].get("scoring_s", 0) + time.monotonic() - t1, 3)
        scores[name] = report
        if report.get("dropped"):
            result.setdefault("dropped", {})[name] = report["dropped"]
        result["errors"] += [f"{name}: {e}" for e in report.get("errors", [])]
        if report.get("instructor_errors") or report.get("log_tail"):  # for the instructor's logs only
            result["log_tail"] = "\n".join(report.get("instructor_errors", []) + [report.get("log_tail", "")])
        for gid, cell in report.get("cells", {}).items():
            if any(t["outcome"] == "tampering" for t in cell["tests"]):
                result["flags"].append(f"{name}: tamper: a test of {gid} ran against replaced functions "
                                       "or the code under test used a forbidden operation")
                tamper.setdefault(name, []).append(f"tampering during the tests of {gid}")
        if path.exists():
            _add_scores_to_notebook(path, report)
            result["autograded"][name] = _capped_text(path)

    if valid:  # exercise 8 (public data): train-vs-test WER, from the checkpoint alone (review only)
        t1 = time.monotonic()
        os.environ.update(private_files(scratch))  # on the instructor's private test words, when given
        result["flags"] += public_data.review_flags(assignment, sub_dir)
        result["timing"]["public_data_s"] = round(time.monotonic() - t1, 3)

    with Gradebook(db_url, task["course_id"]) as gb:
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(assignment, student)
        for nb_sub in sub.notebooks:
            name = nb_sub.notebook.name
            cells = scores.get(name, {}).get("cells", {})
            for grade in nb_sub.grades:
                spec = kit["notebooks"].get(name, {}).get("grade_cells", {}).get(grade.cell.name, {})
                if "tests" in spec:  # a test cell: its score is the scoring run's, nothing else
                    grade.auto_score = cell_score(cells.get(grade.cell.name), spec["points"])
                    grade.needs_manual_grade = False
                elif name not in valid or not (graded_dir / f"{name}.ipynb").exists():
                    grade.auto_score, grade.needs_manual_grade = 0.0, False
                if grade.auto_score is None and grade.cell.cell_type == "code":
                    grade.auto_score = 0.0
                if name in tamper:
                    grade.manual_score, grade.needs_manual_grade = 0.0, True
            gb.db.commit()
            result["notebooks"][name] = {
                "grades": {g.cell.name: {"auto_score": g.auto_score, "manual_score": g.manual_score,
                                         "needs_manual_grade": g.needs_manual_grade,
                                         "max_score": g.max_score} for g in nb_sub.grades},
                "comments": {c.cell.name: c.auto_comment for c in nb_sub.comments},
            }

    t2 = time.monotonic()
    result["feedback"] = _feedback(scratch, task, kit, valid, graded_dir, result, tamper)
    result["timing"]["feedback_s"] = round(time.monotonic() - t2, 3)
    result["timing"]["worker_s"] = round(time.monotonic() - t0, 3)
    return result


def _nbgrader_config(scratch: Path, task: dict, limits: sandbox.Limits):
    from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        GetGrades,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )
    from traitlets.config import Config

    from .nbgrader_ext import HideHiddenTests, MathAsMathML, feedback_exporter, offline_html

    c = Config()
    c.CourseDirectory.root = str(scratch)
    c.CourseDirectory.course_id = task["course_id"]
    c.CourseDirectory.source_directory = "kit/source"
    c.CourseDirectory.db_url = f"sqlite:///{scratch / 'kit' / 'gradebook.db'}"
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
    c.Execute.timeout = int(limits.cell_s)
    # after a cell's time limit the kernel is interrupted; on a busy machine printing the
    # KeyboardInterrupt can take seconds, and nbclient's default 4 s would call it stuck
    c.Execute.iopub_timeout = int(min(30, max(10, limits.cell_s)))
    c.Execute.startup_timeout = 120
    # every output is in by then; a graceful shutdown only waits (about 1 s per notebook) for a
    # kernel whose sandbox, scratch folder and processes are torn down anyway
    c.Execute.shutdown_kernel = "immediate"
    # IPC sockets in a folder the sandbox shares: the kernel has no network, not even loopback
    c.KernelManager.transport = "ipc"
    c.KernelManager.connection_file = str(scratch / "ipc" / "kernel.json")
    c.KernelManager.ip = str(scratch / "ipc" / "k")
    c.KernelManager.shutdown_wait_time = 2.0
    c.OverwriteCells.add_missing_cells = True
    c.LimitOutput.max_lines = 400
    c.LimitOutput.max_traceback = 60
    c.AsyncKernelManager.client_factory = _capped_client_class()
    c.Autograde.autograde_preprocessors = [
        _sandbox_execute_class(), IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, _redact_class(), MathAsMathML,
                                        CSSHTMLHeaderPreprocessor]
    offline_html(c)  # the feedback page loads no MathJax from a CDN
    feedback_exporter(c)
    return c


def _autograde(scratch: Path, task: dict, limits: sandbox.Limits) -> tuple[bool, str, list[str], dict]:
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    student, assignment = task["student"], task["assignment"]
    sub_dir = scratch / "submitted" / student / assignment
    run_dir, ipc_dir, jpath = scratch / "run", scratch / "ipc", scratch / "jupyter"
    # the kernel's folder: a copy of the submission's other files, and the assignment's data
    for src in (scratch / "kit" / "source" / assignment, sub_dir):
        if src.is_dir():
            shutil.copytree(src, run_dir, dirs_exist_ok=True, symlinks=False,
                            ignore=shutil.ignore_patterns("*.ipynb"))
    run_dir.mkdir(exist_ok=True)
    ipc_dir.mkdir(exist_ok=True)
    os.chmod(run_dir, 0o755)
    os.chmod(ipc_dir, 0o755)
    packages = package_dirs(task["packages"])
    policy = sandbox.Policy(
        mode=task["mode"], workdir=str(run_dir), ipc_dir=str(ipc_dir), limits=limits,
        ro_paths=sandbox.python_ro_paths() + packages, pythonpath=sorted({os.path.dirname(p) for p in packages}),
        uid=sandbox.sandbox_uid(), env={"AUTOGRADER_RUN": "feedback"})
    policy.dump(scratch / "policy.json")
    spec_dir = jpath / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    launcher = [sys.executable, "-I", "-S", sandbox.__file__, "launch", str(scratch / "policy.json"), "--"]
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": launcher + [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (sandboxed)", "language": "python",
        "metadata": {"debugger": False}}))
    os.environ.update({"JUPYTER_PATH": str(jpath), "JUPYTER_RUNTIME_DIR": str(ipc_dir),
                       "JUPYTER_CONFIG_DIR": str(scratch / "jupyter-config"),
                       "JUPYTER_DATA_DIR": str(jpath), "JUPYTER_PLATFORM_DIRS": "1"})

    config = _nbgrader_config(scratch, task, limits)
    Exe = config.Autograde.autograde_preprocessors[0]
    Exe.run_dir, Exe.cell_limit, Exe.events, Exe.phases = str(run_dir), int(limits.cell_s), [], {}
    Exe.ipc_dir = str(ipc_dir)
    Exe.deadline = time.monotonic() + limits.wall_s
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    out = api.autograde(assignment, student, force=True, create=True)
    return (bool(out.get("success")), (out.get("log") or "") + (out.get("error") or ""), list(Exe.events),
            dict(Exe.phases))


def package_dirs(names: list[str]) -> list[str]:
    """Folders of the course packages the kernel imports (mounted read-only in the sandbox)."""
    import importlib.util

    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            dirs += [os.path.realpath(p) for p in spec.submodule_search_locations]
        elif spec and spec.origin:
            dirs.append(os.path.realpath(spec.origin))
    return sorted(set(dirs))


def _log_error(log: str) -> str:
    for key, msg in (("DeadKernelError", "the kernel died"), ("CellTimeoutError", "a cell timed out"),
                     ("UnresponsiveKernel", "the kernel stopped responding"),
                     ("Kernel died before replying", "the kernel could not start (grader problem)")):
        if key in log:
            return msg
    lines = [ln for ln in log.splitlines() if ln.startswith("[ERROR]")]
    return (lines[-1][8:] if lines else "see the log")[:300]


def _feedback(scratch, task, kit, valid, graded_dir, result, tamper) -> dict[str, str]:
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    student, assignment = task["student"], task["assignment"]
    own = {normalise(x) for nb in valid.values() for c in nb.cells for x in c.source.splitlines()}
    secrets = {s for s in kit["secrets"] if s not in own}
    out: dict[str, str] = {}
    have = [n for n in valid if (graded_dir / f"{n}.ipynb").exists()]
    if have:
        config = _nbgrader_config(scratch, task, sandbox.Limits(**task["limits"]))
        Red = config.GenerateFeedback.preprocessors[2]
        Red.secrets, Red.redacted = secrets, 0
        Red.notice = _notice(result, tamper)
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        fb = api.generate_feedback(assignment, student, force=True)
        if not fb.get("success"):
            result["errors"].append("feedback could not be generated: " + _log_error(fb.get("log", "")))
        if Red.redacted:
            result["flags"].append(f"review: {Red.redacted} line(s) of hidden material removed from feedback")
        for name in have:
            html = scratch / "feedback" / student / assignment / f"{name}.html"
            if html.exists():
                out[name] = wrap_long_lines(html.read_text())
    for name in kit["notebooks"]:
        if name not in out:
            out[name] = _error_page(student, assignment, name, result)
    return out


WRAP_CSS = ("<style>/* rnn-grade: long output lines wrap instead of running off the page */ "
            "pre, .output_text pre, .output_area pre {white-space: pre-wrap; overflow-wrap: anywhere;}</style>")


def wrap_long_lines(page: str) -> str:
    """A feedback page whose long output lines (a failure message, a traceback) wrap."""
    return page.replace("</head>", WRAP_CSS + "</head>", 1)


def _notice(result: dict, tamper: dict) -> str:
    parts = []
    if tamper:
        parts.append("**Flagged for review: this notebook scores 0 until an instructor has looked at it.** "
                     "The grader found code that changes the libraries or helpers the tests rely on:")
        parts += [f"- {f}" for fs in tamper.values() for f in sorted(set(fs))]
    if result["errors"]:
        parts.append("**Problems while grading:**")
        parts += [f"- {e}" for e in result["errors"]]
    dropped = [f"- {n}: {d}" for n, ds in result.get("dropped", {}).items() for d in ds]
    if dropped:
        parts.append("**Not run while your points were computed** (the grader loads only your imports, "
                     "functions, classes and constants; move other code into a function):")
        parts += dropped
    return "\n".join(parts)


def _error_page(student: str, assignment: str, name: str, result: dict) -> str:
    import html

    items = "".join(f"<li>{html.escape(e)}</li>" for e in result["errors"]) or "<li>no notebook was graded</li>"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(name)}</title></head>"
            f"<body><h1>{html.escape(assignment)} / {html.escape(name)}.ipynb</h1>"
            f"<p>Feedback for {html.escape(student)}: this notebook could not be graded, "
            f"so it scores 0.</p><ul>{items}</ul></body></html>")


def _prctl(option: int, arg) -> bool:
    """Linux's prctl(2) with one argument; False where there is none (another system)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(parent: str | None) -> None:
    """Linux: be killed when the grading thread that started this process is gone (its
    rnn-grade or Dask worker killed), so that no orphan goes on grading for nobody; the
    sandboxes started from here die with it (bubblewrap's --die-with-parent). ``parent``: the
    pid that should be this process's parent (None: whichever it is now)."""
    if not _prctl(1, signal.SIGKILL):  # PR_SET_PDEATHSIG
        return
    if parent and str(os.getppid()) != parent:  # the parent was gone before prctl
        os._exit(1)


PROCESS_NAME = b"rnn-grade-task"  # what `ps` and /proc/PID/comm show for a grading process


def main(argv: list[str]) -> int:
    import warnings

    _prctl(15, PROCESS_NAME)  # PR_SET_NAME
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's SQLAlchemy noise
    scratch = Path(argv[0]).resolve()
    try:
        result = run(scratch)
    except Exception:  # noqa: BLE001 - reported to the coordinator, never lost
        result = {"fatal": traceback.format_exc()[-4000:]}
    (scratch / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":  # started by rnngrade.batch where it cannot fork (on a Dask worker)
    die_with_parent(os.environ.get("RNN_GRADE_PARENT"))
    sys.exit(main(sys.argv[1:]))
