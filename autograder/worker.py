"""Grade ONE submission in a fresh process: ``python -m autograder.worker SCRATCH``.

Started by ``autograder.batch.grade_task`` (on the local pool or on a Dask worker), never
by hand. Everything here is the instructor's code; the student's code runs only inside the
Jupyter kernel, which the kernelspec written below starts through ``autograder/sandbox.py``.

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
import re  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402

from . import integrity, sandbox  # noqa: E402
from .leaks import MARKERS, _norm  # noqa: E402

REPORT_RE = re.compile(r"^(?:.*: )?(\d+)/(\d+) tests passed -> ([-\d.eE+]+) / ([-\d.eE+]+) points$")
TEST_RE = re.compile(r"^  \[(PASS|FAIL)\] (\S+?)( \(hidden test\))?$")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
REDACTED = "[line removed from feedback: it matches the instructor's hidden material]"


class WallTimeExceeded(RuntimeError):
    pass


# --------------------------------------------------------------------------- nbgrader hooks

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
            out = super().preprocess_cell(cell, resources, index)
            SandboxExecute.t_last = time.monotonic()
            self._done.add(index)
            return out

        def preprocess(self, nb, resources, km=None):
            self._done = set()
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
                if _is_secret(line, RedactSecrets.secrets):
                    lines[i] = REDACTED
                    RedactSecrets.redacted += 1
            return "\n".join(lines)

    return RedactSecrets


# what tracebacks put before a source line: IPython's "---> 12 " / "     12 ", pytest's ">   ", "E   "
TRACE_PREFIX = re.compile(r"^\s*(?:-*>\s*\d+|\d+|>|E)\s+")


def _is_secret(line: str, secrets) -> bool:
    """Does ``line`` show a secret line (whole, or behind a traceback prefix) or a marker?"""
    plain = ANSI_RE.sub("", line)
    if any(m in plain for m in MARKERS):
        return True
    return _norm(plain) in secrets or _norm(TRACE_PREFIX.sub("", plain, count=1)) in secrets


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


def verify_cells(nb: nbformat.NotebookNode, info: dict) -> tuple[dict[str, str], list[str]]:
    """(grade_id -> why its positive score cannot be trusted, runtime TAMPERING notes)."""
    from nbgrader.utils import determine_grade, is_grade

    unverified, notes = {}, []
    for cell in nb.cells:
        if cell.cell_type != "code" or not is_grade(cell):
            continue
        gid = cell.metadata.nbgrader["grade_id"]
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        notes += [ln.strip()[len("note: "):] for ln in text.splitlines() if ln.strip().startswith("note: TAMPERING")]
        spec = info["grade_cells"].get(gid)
        if not spec or spec.get("tests") is None:
            continue
        score, _ = determine_grade(cell)
        if not score:
            continue
        why = _check_report(text, score, spec)
        if why:
            unverified[gid] = why
    return unverified, notes


def _check_report(text: str, score: float, spec: dict) -> str:
    reports = [m for m in map(REPORT_RE.match, text.splitlines()) if m]
    if len(reports) != 1:
        return "no run_tests report in the cell's output" if not reports else "more than one report"
    passed, total, rep_score, points = reports[0].groups()
    tests = [m for m in map(TEST_RE.match, text.splitlines()) if m]
    names = {m.group(2).split("[")[0] for m in tests}
    if float(points) != float(spec["points"]):
        return f"the report claims {points} points, the cell has {spec['points']}"
    if len(tests) != int(total) or sum(m.group(1) == "PASS" for m in tests) != int(passed):
        return "the report's counts do not match its test list"
    if names != set(spec["tests"]):
        return "the report's tests are not this cell's tests"
    # the report prints the score with %g (6 significant digits): 10/7 shows as 1.42857
    tol = 1e-5 * max(1.0, abs(score))
    if abs(float(rep_score) - score) > tol or abs(spec["points"] * int(passed) / int(total) - score) > 1e-4:
        return f"the cell returned {score:g}, its tests earn {spec['points'] * int(passed) / int(total):g}"
    return ""


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
        ok, log, events, phases = _autograde(scratch, task, limits)
        result["timing"]["autograde_s"] = round(time.monotonic() - t1, 3)
        result["timing"].update(phases)
        if not ok:
            result["errors"].append("nbgrader autograde failed: " + _log_error(log))
            result["log_tail"] = "\n".join(log.splitlines()[-40:])
    result["errors"] += [f"{e}; the cells after it scored 0" for e in events]

    graded_dir = scratch / "autograded" / student / assignment
    for name in valid:
        path = graded_dir / f"{name}.ipynb"
        # the code that ran: after nbgrader restored the locked cells (else as submitted)
        nb = nbformat.read(path, as_version=4) if path.exists() else valid[name]
        for f in static_flags(nb, kit["notebooks"][name]):
            result["flags"].append(f"{name}: {f}")
            if f.severity == "tamper":
                tamper.setdefault(name, []).append(str(f))
        if not path.exists():
            continue
        bad, notes = verify_cells(nb, kit["notebooks"][name])
        for gid, why in bad.items():
            result["flags"].append(f"{name}: tamper: unverified result in {gid}: {why}")
            tamper.setdefault(name, []).append(f"unverified result in {gid}")
        for n in sorted(set(notes)):
            result["flags"].append(f"{name}: tamper: runtime {n}")
            tamper.setdefault(name, []).append(n)
        result["autograded"][name] = path.read_text()

    with Gradebook(db_url, task["course_id"]) as gb:
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(assignment, student)
        for nb_sub in sub.notebooks:
            name = nb_sub.notebook.name
            for grade in nb_sub.grades:
                if name not in valid or not (graded_dir / f"{name}.ipynb").exists():
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

    from .nbgrader_ext import HideHiddenTests

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
    c.Autograde.autograde_preprocessors = [
        _sandbox_execute_class(), IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, _redact_class(),
                                        CSSHTMLHeaderPreprocessor]
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
        uid=sandbox.sandbox_uid())
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
    own = {_norm(x) for nb in valid.values() for c in nb.cells for x in c.source.splitlines()}
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
                out[name] = html.read_text()
    for name in kit["notebooks"]:
        if name not in out:
            out[name] = _error_page(student, assignment, name, result)
    return out


def _notice(result: dict, tamper: dict) -> str:
    parts = []
    if tamper:
        parts.append("**Flagged for review: this notebook scores 0 until an instructor has looked at it.** "
                     "The grader found code that changes the libraries or helpers the tests rely on:")
        parts += [f"- {f}" for fs in tamper.values() for f in sorted(set(fs))]
    if result["errors"]:
        parts.append("**Problems while grading:**")
        parts += [f"- {e}" for e in result["errors"]]
    return "\n".join(parts)


def _error_page(student: str, assignment: str, name: str, result: dict) -> str:
    import html

    items = "".join(f"<li>{html.escape(e)}</li>" for e in result["errors"]) or "<li>no notebook was graded</li>"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(name)}</title></head>"
            f"<body><h1>{html.escape(assignment)} / {html.escape(name)}.ipynb</h1>"
            f"<p>Feedback for {html.escape(student)}: this notebook could not be graded, "
            f"so it scores 0.</p><ul>{items}</ul></body></html>")


def main(argv: list[str]) -> int:
    import warnings

    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's SQLAlchemy noise
    scratch = Path(argv[0]).resolve()
    try:
        result = run(scratch)
    except Exception:  # noqa: BLE001 - reported to the coordinator, never lost
        result = {"fatal": traceback.format_exc()[-4000:]}
    (scratch / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
