"""A class-sized run of ``rnn-grade``, measured: local pool and Dask cluster, at two class sizes.

    python -m scripts.bench_class [--sizes 100 300] [--workers 2] [--out docs/benchmarks/class.md]

The class is synthetic: copies of the fault tests' one-function exercise (``tests/faults/
tiny_class.py``) in a fixed mixture, so that what is measured is the grader, not a model:

* 50 % correct, 20 % wrong, 10 % blank (the release as handed out), 10 % broken (not a
  notebook: invalid JSON) and 10 % hostile (a top-level patch of numpy's testing functions,
  which the static scan flags and the scoring run never executes).

For each size it grades the class twice, into fresh output folders: on the local pool
(``--workers``) and on a Dask cluster of ``--workers`` single-threaded worker processes on
this machine (``distributed.LocalCluster``), and records

* throughput: submissions graded per minute per core (cores = workers);
* the coordinator's peak memory (its VmHWM, read from /proc while it runs);
* the time from the start of the command to the first and to the last recorded result
  (the lines of ``journal.jsonl``, polled every 0.2 s).

Goals (issue "grading a real class under faults"): the coordinator's memory flat as the
class grows (100 vs 300), and the cluster's throughput per core within 10 % of the local
pool's. Writes ``docs/benchmarks/class.md`` and ``class.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from rnngrade.course import ROOT, nbgrader_env
from tests.faults import tiny_class

OUT_MD = ROOT / "docs" / "benchmarks" / "class.md"
MIXTURE = {"correct": 0.5, "wrong": 0.2, "blank": 0.1, "broken": 0.1, "hostile": 0.1}
HOSTILE = ("np.testing.assert_allclose = lambda *a, **k: None\n\n"
           "def double(x):\n    return np.asarray(x)")


def write_class(dest: Path, size: int) -> Path:
    """``size`` submissions in the fixed mixture (deterministic: the i-th student's kind
    depends on i only)."""
    course = tiny_class.build_course(dest)
    kinds = [k for k, share in MIXTURE.items() for _ in range(round(share * size))][:size]
    kinds += ["correct"] * (size - len(kinds))
    students = {f"{kind}-{i:04d}": kind for i, kind in enumerate(kinds)}
    cls = dest / "class"
    tiny_class.write_class(course, cls, [s for s, k in students.items() if k in ("correct", "wrong")])
    release = (course / "release" / tiny_class.A / f"{tiny_class.A}.ipynb").read_text()
    for student, kind in students.items():
        folder = cls / student / tiny_class.A
        if kind == "blank":
            folder.mkdir(parents=True)
            (folder / f"{tiny_class.A}.ipynb").write_text(release)
        elif kind == "broken":
            folder.mkdir(parents=True)
            (folder / f"{tiny_class.A}.ipynb").write_text('{"cells": [ this is not json')
        elif kind == "hostile":
            nb = json.loads(release)
            for cell in nb["cells"]:
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "double":
                    cell["source"] = HOSTILE
            folder.mkdir(parents=True)
            (folder / f"{tiny_class.A}.ipynb").write_text(json.dumps(nb))
    return course


def _peak_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def grade(course: Path, cls: Path, out: Path, size: int, workers: int, scheduler: str | None) -> dict:
    cmd = [sys.executable, "-m", "rnngrade.batch", str(cls), "--course", str(course), "--out", str(out),
           "--quiet", *tiny_class.LIMITS]
    cmd += ["--scheduler", scheduler] if scheduler else ["--workers", str(workers)]
    journal = out / "journal.jsonl"
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=nbgrader_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    first = last = None
    peak = 0
    with tqdm(total=size, desc=f"{'dask' if scheduler else 'local'} {size}", unit="notebook") as bar:
        while proc.poll() is None:
            peak = max(peak, _peak_kib(proc.pid) or 0)
            n = sum(1 for _ in journal.open()) if journal.exists() else 0
            if n and first is None:
                first = time.monotonic() - start
            if n >= size and last is None:
                last = time.monotonic() - start
            bar.update(n - bar.n)
            time.sleep(0.2)
    output = proc.stdout.read().decode(errors="replace")
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError(f"rnn-grade failed ({proc.returncode}):\n{output[-3000:]}")
    last = last or elapsed
    run = json.loads((out / "run.json").read_text())
    import csv
    from collections import Counter

    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    if len({r["student"] for r in rows}) != size:
        raise RuntimeError(f"{len(rows)} rows for {size} submissions")
    statuses = Counter(f"{r['student'].split('-')[0]}:{r['status']}" for r in rows)
    return {"size": size, "where": "dask" if scheduler else "local", "workers": workers,
            "seconds": round(elapsed, 1), "first_result_s": round(first or elapsed, 1), "last_result_s": round(last, 1),
            "per_min_per_core": round(size / (last / 60) / workers, 1),
            "coordinator_peak_mib": round(peak / 1024, 1), "graded": run.get("graded"),
            "task_s_mean": round(sum(t["task_s"] for t in run["timings"]) / max(1, len(run["timings"])), 2),
            "statuses": dict(sorted(statuses.items()))}


def report(results: list[dict], workers: int) -> str:
    by = {(r["where"], r["size"]): r for r in results}
    sizes = sorted({r["size"] for r in results})
    lines = ["# A class-sized run of rnn-grade", "",
             f"Written by `python -m scripts.bench_class` (`make bench-class`) on {time.strftime('%Y-%m-%d')}, "
             f"{platform.node()} ({os.cpu_count()} cores), {workers} workers (local pool: "
             f"`--workers {workers}`; Dask: a LocalCluster of {workers} single-threaded worker processes). "
             "The class: the fault tests' one-function exercise, 50 % correct, 20 % wrong, 10 % blank, "
             "10 % broken (not JSON), 10 % hostile (flagged).", "",
             "| where | submissions | wall s | first result s | last result s | per minute per core | "
             "coordinator peak MiB | mean task s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['where']} | {r['size']} | {r['seconds']} | {r['first_result_s']} | {r['last_result_s']} "
                     f"| {r['per_min_per_core']} | {r['coordinator_peak_mib']} | {r['task_s_mean']} |")
    lines += ["", "Kind of submission : status, as graded (each run): "
              + ", ".join(f"{k} {v}" for k, v in results[-1]["statuses"].items()) + ".", ""]
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        for where in ("local", "dask"):
            if (where, small) in by and (where, big) in by:
                a, b = by[(where, small)]["coordinator_peak_mib"], by[(where, big)]["coordinator_peak_mib"]
                lines.append(f"- Coordinator memory, {where}: {a} MiB at {small}, {b} MiB at {big} "
                             f"({(b - a) / a:+.0%}; goal: flat).")
    for size in sizes:
        if ("local", size) in by and ("dask", size) in by:
            lo, da = by[("local", size)]["per_min_per_core"], by[("dask", size)]["per_min_per_core"]
            ok = "met" if da >= 0.9 * lo else "NOT met"
            lines.append(f"- Throughput per core at {size}: Dask {da} vs local {lo} submissions/min "
                         f"({da / lo:.0%} of local; goal ≥ 90 %: {ok}).")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--where", nargs="+", default=["local", "dask"], choices=["local", "dask"])
    p.add_argument("--out", type=Path, default=OUT_MD)
    args = p.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        for size in args.sizes:
            dest = Path(tmp) / f"class-{size}"
            course = write_class(dest, size)
            for where in args.where:
                scheduler = cluster = None
                if where == "dask":
                    from distributed import LocalCluster

                    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
                    scheduler = cluster.scheduler_address
                try:
                    results.append(grade(course, dest / "class", dest / f"out-{where}", size, args.workers, scheduler))
                finally:
                    if cluster is not None:
                        cluster.close()
                print(json.dumps(results[-1]), file=sys.stderr)
    text = report(results, args.workers)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
