"""Measure how long a reader-facing book build takes, cold and warm, and write the figures.

    python -m scripts.bench_book                 # writes docs/benchmarks/book.md and book.json
    python -m scripts.bench_book --source DIR    # benchmark another checkout

Runs in a scratch copy of the repository (its tracked and untracked-but-not-ignored files),
so your own ``_build`` is left alone. Four builds, each the README's
``jupyter-book build . --warningiserror --nitpick --keep-going``:

1. **cold**: no ``_build`` at all (every chapter executed);
2. **warm**: again, nothing changed (goal: at most 10 % of cold);
3. **touch**: one chapter's file touched, content unchanged (Sphinx re-reads it; the
   jupyter-cache entry still matches, so nothing is executed);
4. **edit**: one code cell appended to that chapter (its code changed: exactly that
   chapter must be re-executed, all others come from the cache).

Which notebooks each build executed comes from two independent sources: myst-nb's log
lines ("Executed notebook in ...") and the jupyter-cache records created during the build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT_MD = ROOT / "docs" / "benchmarks" / "book.md"
OUT_JSON = ROOT / "docs" / "benchmarks" / "book.json"
COLD_GOAL_S = 300.0
WARM_GOAL_FRACTION = 0.10
SKIP_COPY = {".venv", "_build", "dist", "grading", ".git"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def copy_checkout(source: Path, dest: Path) -> None:
    """Copy what git would give a fresh clone plus untracked, non-ignored files."""
    proc = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=source,
                          capture_output=True)
    if proc.returncode == 0:
        for rel in filter(None, proc.stdout.decode().split("\0")):
            src = source / rel
            if not src.is_file():
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    else:
        shutil.copytree(source, dest, dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if n in SKIP_COPY])


def toc_chapters(root: Path) -> list[str]:
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


def chapter_to_edit(root: Path) -> str:
    """The first chapter with a code cell (a written one), else the first chapter."""
    chapters = [c for c in toc_chapters(root) if Path(c).name.startswith("ch")]
    for c in chapters:
        if "{code-cell}" in (root / f"{c}.md").read_text():
            return c
    return chapters[0]


def cache_records(build_dir: Path) -> list[dict]:
    """jupyter-cache's records: the notebook, when it was executed, how long it took."""
    path = build_dir / ".jupyter_cache"
    if not path.exists():
        return []
    from jupyter_cache import get_cache

    out = []
    for rec in get_cache(str(path)).list_cache_records():
        out.append({"uri": rec.uri, "created": rec.created.timestamp(),
                    "seconds": (rec.data or {}).get("execution_seconds")})
    return out


def build(root: Path, label: str) -> dict:
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb), "build", ".", "--warningiserror", "--nitpick", "--keep-going"]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    load = os.getloadavg()[0]
    started = time.time()
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env, timeout=3600)
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    log = ANSI.sub("", proc.stdout + proc.stderr)
    (root / "_build").mkdir(exist_ok=True)
    (root / "_build" / f"bench-{label}.log").write_text(log)
    executed = sorted({Path(m).relative_to(root).with_suffix("").as_posix()
                       for m in re.findall(r"^(\S+?): Executed notebook in", log, flags=re.M)})
    cached_new = sorted({Path(r["uri"]).relative_to(root).with_suffix("").as_posix()
                         for r in cache_records(root / "_build") if r["created"] >= started - 1})
    changed = re.search(r"updating environment: .*?(\d+) added, (\d+) changed, (\d+) removed", log)
    written = re.search(r"building \[html\]: targets for (\d+) source files", log)
    return {
        "label": label,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),  # user + system of the build and the kernels it ran
        "returncode": proc.returncode,
        "load_average_at_start": round(load, 2),
        "docs_read": (int(changed.group(1)) + int(changed.group(2))) if changed else None,
        "pages_written": int(written.group(1)) if written else None,
        "executed_by_log": executed,
        "executed_by_cache": cached_new,
    }


def edit_chapter(root: Path, chapter: str) -> None:
    path = root / f"{chapter}.md"
    path.write_text(path.read_text().rstrip("\n")
                    + f"\n\n```{{code-cell}} ipython3\n# benchmark edit {time.time():.0f}\n```\n")


def run(source: Path, keep: bool = False, executed_to: Path | None = None) -> dict:
    """The four builds in a scratch copy of ``source``; ``executed_to`` receives the cold
    build's executed chapters (``_build/jupyter_execute``), whose glue values
    scripts/bench_course.py reads."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-book-"))
    root = scratch / "repo"
    root.mkdir()
    try:
        copy_checkout(source, root)
        chapter = chapter_to_edit(root)
        results = {"cold": build(root, "cold")}
        if executed_to is not None and (root / "_build" / "jupyter_execute").exists():
            shutil.rmtree(executed_to, ignore_errors=True)
            shutil.copytree(root / "_build" / "jupyter_execute", executed_to)
        results["warm"] = build(root, "warm")
        os.utime(root / f"{chapter}.md")
        results["touch"] = build(root, "touch")
        edit_chapter(root, chapter)
        results["edit"] = build(root, "edit")
        per_chapter = {Path(r["uri"]).relative_to(root).with_suffix("").as_posix(): r["seconds"]
                       for r in cache_records(root / "_build")}
    finally:
        if keep:
            print(f"scratch build kept in {root}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    cold = results["cold"]["seconds"]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git(source, "rev-parse", "--short", "HEAD"),
        "cpus": os.cpu_count(),
        "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "chapter_edited": chapter,
        "builds": results,
        "execution_seconds_per_notebook": per_chapter,
        "goals": {"cold_seconds_max": COLD_GOAL_S, "warm_fraction_of_cold_max": WARM_GOAL_FRACTION},
        "cold_ok": results["cold"]["returncode"] == 0 and cold <= COLD_GOAL_S,
        "warm_fraction": round(results["warm"]["seconds"] / cold, 3) if cold else None,
        "edit_reexecuted_only_that_chapter": (results["edit"]["executed_by_log"] == [chapter]
                                              and results["edit"]["executed_by_cache"] == [chapter]),
    }


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def _ok(flag: bool) -> str:
    return "met" if flag else "NOT met"


def render(data: dict) -> str:
    b = data["builds"]
    cold = b["cold"]["seconds"]
    frac = data["warm_fraction"]
    rows = [
        ("cold build (no `_build`)", b["cold"], f"<= {COLD_GOAL_S:.0f} s on 2 cores",
         _ok(data["cold_ok"])),
        ("warm rebuild, nothing changed", b["warm"], f"<= {WARM_GOAL_FRACTION:.0%} of cold",
         f"{_ok(frac is not None and frac <= WARM_GOAL_FRACTION)} ({frac:.0%} of cold)" if frac else "n/a"),
        (f"one chapter touched (`{data['chapter_edited']}`, content unchanged)", b["touch"],
         "executes nothing", _ok(not b["touch"]["executed_by_log"])),
        (f"one chapter's code edited (`{data['chapter_edited']}`)", b["edit"],
         "re-executes only that chapter", _ok(data["edit_reexecuted_only_that_chapter"])),
    ]
    lines = [
        "# Book build benchmark",
        "",
        "Written by `python -m scripts.bench_book` (part of `make bench`); do not edit by hand.",
        "",
        f"- when: {data['date']}, commit `{data['commit']}`",
        f"- machine: {data['machine']}, {data['cpus']} CPUs"
        f" (load average at the cold build's start: {b['cold']['load_average_at_start']})",
        "- command: `jupyter-book build . --warningiserror --nitpick --keep-going` in a scratch copy",
        "",
        "| build | wall s | CPU s | docs read | pages written | notebooks executed | goal | status |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for name, r, goal, status in rows:
        ex = ", ".join(f"`{e}`" for e in r["executed_by_log"]) or "none"
        if r["executed_by_log"] != r["executed_by_cache"]:
            ex += f" (jupyter-cache says: {', '.join(r['executed_by_cache']) or 'none'})"
        fail = "" if r["returncode"] == 0 else f" (build FAILED, exit {r['returncode']})"
        lines.append(f"| {name} | {r['seconds']:.1f}{fail} | {r['cpu_seconds']:.1f} | {r['docs_read']} | {r['pages_written']} "
                     f"| {ex} | {goal} | {status} |")
    lines += ["", "Execution time per notebook in the cold build (jupyter-cache):", "",
              "| notebook | seconds |", "|---|---:|"]
    for nb, s in sorted(data["execution_seconds_per_notebook"].items()):
        lines.append(f"| `{nb}` | {s:.1f} |" if s is not None else f"| `{nb}` | ? |")
    lines += ["", f"Cold build: {cold:.1f} s wall. Wall times on a shared machine grow with its load "
              "(the load average is the one-minute figure when the cold build started); CPU seconds "
              "(user + system, the kernels included) hardly do.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout to benchmark (default: this one)")
    parser.add_argument("--out", type=Path, default=OUT_MD, help="markdown report")
    parser.add_argument("--json", type=Path, default=OUT_JSON, help="machine-readable figures")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy and its _build")
    args = parser.parse_args(argv)
    data = run(args.source.resolve(), keep=args.keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(data))
    args.json.write_text(json.dumps(data, indent=2) + "\n")
    print(render(data))
    return 0 if all(r["returncode"] == 0 for r in data["builds"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
