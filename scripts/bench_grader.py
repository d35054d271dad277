"""Benchmark the batch grader against plain ``nbgrader autograde`` on N identical submissions.

    python -m scripts.bench_grader [--exercise ex01_rnn_basics] [--n 4] [--checkpoint-dir DIR]

In one run, on the same N copies of a correct submission (the solution's code in the
released notebook, plus the reference checkpoint):

1. the notebook's own execution time: each copy executed with nbclient, in this process,
   one after another (kernel start-up + cells, as the grader's kernel runs them);
2. plain ``nbgrader autograde`` (one command, sequential, no sandbox);
3. ``rnn-grade --workers 1`` and ``rnn-grade --workers 2`` (sandboxed, with feedback).

It reports the speed-up (1 worker -> k workers, and plain nbgrader -> k workers) and the
per-submission overhead beyond the notebook's own execution time, and writes
docs/benchmarks/grader.md. The checkpoint: ``<stem>*.safetensors/.json`` from
--checkpoint-dir, else the solution notebook is executed once, in a scratch copy, to train it
(one to three minutes; solutions/ never holds a checkpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from rnngrade.course import ROOT as REPO  # noqa: E402
from rnngrade.course import generate_assignment, nbgrader_env  # noqa: E402
from rnngrade.release import checkpoint_patterns  # noqa: E402
from rnngrade.sandbox import KERNEL_COMPUTE_ENV  # noqa: E402
from tests import harness  # noqa: E402


def checkpoint_files(exercise: str, given: Path | None, work: Path) -> list[Path]:
    sol = nbformat.read(REPO / "solutions" / exercise / f"{exercise}.ipynb", as_version=4)
    patterns = checkpoint_patterns([c.source for c in sol.cells if c.cell_type == "code"])
    if not patterns:
        return []
    if given and all(list(given.glob(p)) for p in patterns):
        return sorted(f for p in patterns for f in given.glob(p))
    print(f"training the reference model once (executing solutions/{exercise} in a scratch copy) ...",
          file=sys.stderr)
    train = work / "train"
    train.mkdir()
    shutil.copy(REPO / "solutions" / exercise / f"{exercise}.ipynb", train)
    env = {k: v for k, v in nbgrader_env().items() if k != "NBGRADER_EXECUTION"}
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                    "--ExecutePreprocessor.timeout=1200", f"{exercise}.ipynb", "--output", "trained.ipynb"],
                   cwd=train, env=env, check=True, capture_output=True)
    return sorted(f for p in patterns for f in train.glob(p))


def make_class(root: Path, exercise: str, n: int, ckpts: list[Path]) -> list[Path]:
    nb = harness.make_submission(exercise)
    folders = []
    for i in range(n):
        d = root / f"student{i:02d}" / exercise
        d.mkdir(parents=True)
        nbformat.write(nb, d / f"{exercise}.ipynb")
        for f in ckpts:
            shutil.copy(f, d / f.name)
        folders.append(d)
    return folders


def time_execution(folders: list[Path], exercise: str) -> list[float]:
    """Each notebook executed as the grader's kernel runs it: NBGRADER_EXECUTION set, and the
    same one-thread limit, so that the difference to the grader is the grader's own work."""
    from nbclient import NotebookClient

    saved = {k: os.environ.get(k) for k in KERNEL_COMPUTE_ENV}
    os.environ.update(KERNEL_COMPUTE_ENV)
    times = []
    try:
        for d in folders:
            nb = nbformat.read(d / f"{exercise}.ipynb", as_version=4)
            t = time.perf_counter()
            NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                           resources={"metadata": {"path": str(d)}}).execute()
            times.append(time.perf_counter() - t)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return times


def time_plain_nbgrader(work: Path, cls: Path, exercise: str) -> tuple[float, float]:
    """Sequential `nbgrader autograde` of the whole class; returns (seconds, mean score)."""
    course = work / "plain"
    (course / "source").mkdir(parents=True)
    shutil.copytree(REPO / "solutions" / exercise, course / "source" / exercise)
    shutil.copytree(cls, course / "submitted")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.ignore = ['.ipynb_checkpoints', '*.pyc', '__pycache__', 'feedback', 't_*.py']\n"
        "c.Execute.timeout = 900\n")
    env = nbgrader_env()
    for f in (course / "source" / exercise).glob("*.safetensors"):
        f.unlink()  # the reference checkpoint would overwrite the students' copies
    generate_assignment(exercise, release=course / "release", db_url=f"sqlite:///{course / 'gradebook.db'}",
                        source=course / "source", root=course)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", exercise, "--force"],
                          cwd=course, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-3000:])
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = [s.score for s in gb.assignment_submissions(exercise)]
    return elapsed, statistics.mean(scores)


def time_grader(work: Path, cls: Path, exercise: str, workers: int) -> dict:
    out = work / f"grader{workers}"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rnngrade.batch", str(cls), "--out", str(out),
                           "--assignment", exercise, "--workers", str(workers), "--quiet"],
                          env=nbgrader_env(), capture_output=True, text=True)
    total = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-3000:])
    run = json.loads((out / "run.json").read_text())
    import csv

    rows = list(csv.DictReader(open(out / "grades.csv")))
    return {"total": total, "grading": run["seconds"], "sandbox": run["sandbox"],
            "scores": [float(r["score"]) for r in rows], "per_task": [float(r["seconds"]) for r in rows],
            "timings": run.get("timings", [])}


PHASES = ("task_s", "kernel_start_s", "cells_s", "scoring_s", "feedback_s")


def phase_means(timings: list[dict]) -> dict[str, float]:
    """Mean seconds per submission of each phase the grader records in run.json."""
    return {k: statistics.mean(t.get(k, 0.0) for t in timings) for k in PHASES} if timings else {}


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exercise", default="ex01_rnn_basics")
    p.add_argument("--n", type=int, default=4, help="number of identical submissions")
    p.add_argument("--checkpoint-dir", type=Path)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "grader.md")
    p.add_argument("--note", default="", help="a sentence about the machine's load, put in the report")
    a = p.parse_args()

    load_before = load()
    with tempfile.TemporaryDirectory(prefix="bench-grader-") as work:
        work = Path(work)
        ckpts = checkpoint_files(a.exercise, a.checkpoint_dir, work)
        cls = work / "class"
        folders = make_class(cls, a.exercise, a.n, ckpts)
        print(f"{a.n} submissions of {a.exercise}; load {load_before}", file=sys.stderr)
        exec_times = time_execution(folders, a.exercise)
        print(f"notebook execution: {[round(x, 1) for x in exec_times]} s", file=sys.stderr)
        plain_s, plain_score = time_plain_nbgrader(work, cls, a.exercise)
        print(f"plain nbgrader autograde: {plain_s:.1f} s (mean score {plain_score:g})", file=sys.stderr)
        g1 = time_grader(work, cls, a.exercise, 1)
        print(f"rnn-grade --workers 1: {g1['grading']:.1f} s grading, {g1['total']:.1f} s total", file=sys.stderr)
        g2 = time_grader(work, cls, a.exercise, 2)
        print(f"rnn-grade --workers 2: {g2['grading']:.1f} s grading, {g2['total']:.1f} s total", file=sys.stderr)
    load_after = load()

    n, t_exec = a.n, statistics.mean(exec_times)
    over1 = g1["grading"] / n - t_exec
    res = {
        "exercise": a.exercise, "n": n, "cpus": os.cpu_count(), "load_before": load_before,
        "load_after": load_after, "exec_s": exec_times, "plain_s": plain_s, "plain_mean_score": plain_score,
        "grader1": g1, "grader2": g2,
        "speedup_1_to_2": g1["grading"] / g2["grading"], "speedup_plain_to_2": plain_s / g2["grading"],
        "speedup_plain_to_1": plain_s / g1["grading"],
        "overhead_s": over1, "overhead_pct": 100 * over1 / t_exec,
        "plain_overhead_pct": 100 * (plain_s / n - t_exec) / t_exec,
        "phases1": phase_means(g1["timings"]),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(render(res, a.note))
    (a.out.with_suffix(".json")).write_text(json.dumps(res, indent=1))
    print(render(res, a.note))


def render(r: dict, note: str) -> str:
    ok_speed = r["speedup_1_to_2"] >= 1.8
    ratio = 1 + r["overhead_pct"] / 100
    ok_ratio = ratio <= 1.5
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    return f"""# Batch grader benchmark

Written by `scripts/bench_grader.py` (commit {commit}); rerun it to refresh these numbers.
{r['n']} identical correct submissions of `{r['exercise']}` (solution code + reference
checkpoint), graded in one run, on a machine with {r['cpus']} CPU cores.
Load average (1, 5, 15 min) before: {r['load_before']}; after: {r['load_after']}.
{note}

| what | wall time | per submission | mean score |
|---|---:|---:|---:|
| notebook's own execution (nbclient, sequential) | {sum(r['exec_s']):.1f} s | {statistics.mean(r['exec_s']):.1f} s | |
| plain `nbgrader autograde` (sequential, no sandbox, no feedback) | {r['plain_s']:.1f} s | {r['plain_s'] / r['n']:.1f} s | {r['plain_mean_score']:g} |
| `rnn-grade --workers 1` (grading phase; whole command) | {r['grader1']['grading']:.1f} s ({r['grader1']['total']:.1f} s) | {r['grader1']['grading'] / r['n']:.1f} s | {statistics.mean(r['grader1']['scores']):g} |
| `rnn-grade --workers 2` (grading phase; whole command) | {r['grader2']['grading']:.1f} s ({r['grader2']['total']:.1f} s) | {r['grader2']['grading'] / r['n']:.1f} s | {statistics.mean(r['grader2']['scores']):g} |

- Speed-up from 1 to 2 workers: **{r['speedup_1_to_2']:.2f}x** (goal >= 1.8x: {'met' if ok_speed else 'NOT met'}).
- Speed-up over plain nbgrader: {r['speedup_plain_to_1']:.2f}x with 1 worker, {r['speedup_plain_to_2']:.2f}x with 2.
- Time per submission (1 worker) against the notebook's own execution: **{ratio:.2f}x**
  ({r['overhead_s']:.1f} s more; goal <= 1.5x: {'met' if ok_ratio else 'NOT met'}); plain nbgrader's
  on the same measure: {1 + r['plain_overhead_pct'] / 100:.2f}x.
  The grader runs each notebook twice (the feedback run with the visible tests, then the
  scoring run: a second sandbox, the course's cells, forked test processes of up to 7 cases), each
  in a fresh process inside bubblewrap ({r['grader1']['sandbox']}), then writes feedback HTML
  and the gradebook; the whole command also builds the grading kit once per exercise.

The grading phase is the time from the first task's start to the last result written;
"whole command" adds start-up, the kit and the reports. The notebook's own execution runs
with the grader's kernel settings (one thread, `NBGRADER_EXECUTION=autograde`).
{_phases(r)}"""


def _phases(r: dict) -> str:
    p = r.get("phases1")
    if not p:
        return ""
    rest = p["task_s"] - p["kernel_start_s"] - p["cells_s"] - p["scoring_s"] - p["feedback_s"]
    return f"""
Inside the grader (1 worker, mean per submission, from `run.json` "timings"): the task took
{p['task_s']:.1f} s = feedback run: sandboxed kernel start {p['kernel_start_s']:.1f} s + cells
{p['cells_s']:.1f} s; scoring run {p['scoring_s']:.1f} s (sandbox, imports, the course's cells, the test
cases in forked test processes); feedback HTML {p['feedback_s']:.1f} s; the rest {rest:.1f} s (worker
process start, copying the submission, nbgrader's own steps, gradebook).
"""


if __name__ == "__main__":
    main()
