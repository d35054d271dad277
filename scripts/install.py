"""Install the course into this interpreter's environment: the Makefile's ``.venv`` step.

    .venv/bin/python -m scripts.install [--torch SPEC] [--extras instructor,book,dev]
    .venv/bin/python -m scripts.install --lock     # re-resolve requirements-lock.txt (`make lock`)

1. **torch**, unless it imports already (a GPU user installs the CUDA build first: README,
   "GPU users"): ``SPEC`` (``torch==2.13.0``, a CPU build), without its dependencies, which
   the lock holds.
2. **requirements-lock.txt**: every other package, at the version that pip's resolver chose
   for pyproject.toml, installed without resolving again. In two halves, at the same time as
   torch: each pip is one core unzipping and byte-compiling wheels, and the three side by
   side take about 60 s on 2 cores where one after another took 80 s (docs/benchmarks/tests.md).
   The packages are disjoint (``--no-deps``), so the three never write the same file.
3. **the course itself** (editable), then ``pip check``. Where the result is inconsistent (a lock
   older than pyproject.toml, a GPU build of torch that wants other versions of its own
   dependencies), pip's resolver installs from pyproject.toml as it always did, and says why.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-lock.txt"
HEADER = """\
# Every package that `make` installs into .venv besides torch and the course itself, at the
# version pip's resolver chose from pyproject.toml. Written by `make lock` (scripts/install.py);
# do not edit by hand. tests/test_environment.py checks it against pyproject.toml.
"""
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]


def pinned(lock: Path = LOCK) -> list[str]:
    """The lock's ``name==version`` lines."""
    return [ln.strip() for ln in lock.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def has_torch() -> bool:
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def install(torch_spec: str, extras: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pins, halves = pinned(), []
        for i, part in enumerate((pins[0::2], pins[1::2])):
            path = Path(tmp) / f"lock-{i}.txt"
            path.write_text("\n".join(part) + "\n")
            halves.append(path)
        jobs = [subprocess.Popen([*PIP, "install", "--no-deps", "-r", str(h)]) for h in halves]
        if not has_torch():
            jobs.append(subprocess.Popen([*PIP, "install", "--no-deps", *torch_spec.split()]))
        failed = [j.args for j in jobs if j.wait() != 0]
    if failed:
        sys.exit(f"pip failed: {failed}")
    # The course's build backend, setuptools, is in the lock and so installed by now: building the
    # editable install with it skips the isolated build environment that pip would otherwise make,
    # installing setuptools into a temporary folder again (5.2 -> 1.5 s).
    locked = {pin.split("==")[0].lower() for pin in pins}
    isolation = ["--no-build-isolation"] if "setuptools" in locked else []
    subprocess.run([*PIP, "install", "--no-deps", *isolation, "-e", str(ROOT)], check=True)
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    if check.returncode != 0:
        print(f"{LOCK.name} does not fit this environment (pip check: {check.stdout.strip()}):\n"
              f"resolving pyproject.toml instead", file=sys.stderr)
        subprocess.run([*PIP, "install", "-e", f"{ROOT}[{extras}]"], check=True)


def lock(torch_spec: str, extras: str) -> None:
    """Resolve pyproject.toml in a scratch environment and write what it installed to the lock."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "venv", tmp], check=True)
        pip = [f"{tmp}/bin/python", "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", *torch_spec.split()], check=True)
        subprocess.run([*pip, "install", "-e", f"{ROOT}[{extras}]"], check=True)
        frozen = subprocess.run([*pip, "freeze", "--all", "--exclude-editable"], check=True,
                                capture_output=True, text=True).stdout.splitlines()
    keep = sorted((ln for ln in frozen if ln.split("==")[0].lower() not in ("torch", "pip")), key=str.lower)
    LOCK.write_text(HEADER + "\n".join(keep) + "\n")
    print(f"{LOCK.name}: {len(keep)} packages")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--torch", default="torch==2.13.0", help="what to install when torch is missing")
    p.add_argument("--extras", default="instructor,book,dev")
    p.add_argument("--lock", action="store_true", help="re-resolve pyproject.toml into requirements-lock.txt")
    a = p.parse_args()
    (lock if a.lock else install)(a.torch, a.extras)


if __name__ == "__main__":
    main()
