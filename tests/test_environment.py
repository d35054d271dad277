"""environment.yml (conda) installs the same packages as pyproject.toml (pip)."""

import re
import tomllib
from pathlib import Path

import yaml

from rnngrade.course import ROOT

CONDA_NAMES = {"torch": "pytorch"}  # conda-forge names that differ from PyPI's


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in py["dependencies"]}
    wanted |= {_name(r) for group in ("instructor", "book", "dev") for r in py["optional-dependencies"][group]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    have = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            have |= {_name(d) for d in dep["pip"] if not d.startswith("-e")}
        else:
            have.add(_name(dep.split("=")[0]))
    have -= {"python", "pip"}
    wanted = {CONDA_NAMES.get(n, n) for n in wanted}
    assert wanted == have, f"only in pyproject: {sorted(wanted - have)}; only in environment.yml: {sorted(have - wanted)}"


def test_grade_exports_stay_out_of_git():
    """`nbgrader export` from the repository root writes under grading/, and a grades file
    written anywhere in the working tree is ignored by git (no `git add .` publishes grades)."""
    import subprocess

    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    to = Path(cfg.ExportPlugin.to)
    assert to.parent == ROOT / "grading", f"nbgrader export writes to {to}"
    for name in ("grades.csv", "grading/grades.csv", "exercises/grades.csv", "gradebook.db",
                 "grades_cells.csv"):
        proc = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT)
        assert proc.returncode == 0, f"{name} is not ignored by git"


def test_the_books_cell_limit_is_the_courses():
    """_config.yml cannot import Python: its execution time limit must equal the course's
    (rnngrade/course.py, which nbgrader_config.py uses)."""
    from rnngrade.course import CELL_TIMEOUT_S

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["timeout"] == CELL_TIMEOUT_S


def test_the_lock_pins_a_version_pyproject_allows_for_every_dependency():
    """requirements-lock.txt (scripts/install.py, `make lock`) holds one pinned version of each
    dependency that pyproject.toml names, inside pyproject's range; torch and the course itself
    are not in it (torch comes first and may be a GPU build)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from scripts import install

    pins = {}
    for line in install.pinned():
        name, _, version = line.partition("==")
        assert version and " " not in version, f"not a pin: {line!r}"
        assert canonicalize_name(name) not in pins, f"pinned twice: {name}"
        pins[canonicalize_name(name)] = version
    assert "torch" not in pins and "rnn-course" not in pins and "pip" not in pins
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in py["dependencies"]]
    wanted += [Requirement(r) for group in ("instructor", "book", "dev") for r in py["optional-dependencies"][group]]
    problems = []
    for req in wanted:
        name = canonicalize_name(req.name)
        if name == "torch":
            continue
        if name not in pins:
            problems.append(f"{req}: not in the lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req}: the lock pins {pins[name]}")
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_the_environment_the_tests_run_in_is_consistent():
    """`pip check` in .venv: what `make` installed from the lock (or the resolver's fallback)
    has every dependency of every package at a version it accepts."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_install_falls_back_to_the_resolver_when_pip_check_fails(monkeypatch):
    """scripts/install.py: torch (only when missing) and the lock's halves side by side, without
    resolving; the course; then, where `pip check` fails, pip's resolver on pyproject.toml."""
    import subprocess

    from scripts import install

    started, ran = [], []

    class Job:
        def __init__(self, args):
            self.args = args
            started.append(args)

        def wait(self):
            return 0

    def run(args, **kw):
        ran.append(args)
        failing_check = args[-1] == "check"
        return subprocess.CompletedProcess(args, 1 if failing_check else 0, "torch 9 needs sympy 0", "")

    monkeypatch.setattr(install.subprocess, "Popen", Job)
    monkeypatch.setattr(install.subprocess, "run", run)
    monkeypatch.setattr(install, "has_torch", lambda: False)
    install.install("torch==2.13.0", "instructor,book,dev")
    assert len(started) == 3 and all("--no-deps" in a for a in started)
    assert sum("torch==2.13.0" in a for a in started) == 1
    halves = [a[a.index("-r") + 1] for a in started if "-r" in a]
    assert len(halves) == 2
    course = next(a for a in ran if a[-2:] == ["-e", str(install.ROOT)])
    assert "--no-deps" in course and "--no-build-isolation" in course  # setuptools is in the lock
    assert ran[-1][-2:] == ["-e", f"{install.ROOT}[instructor,book,dev]"] and "--no-deps" not in ran[-1]

    started.clear(), ran.clear()
    monkeypatch.setattr(install, "has_torch", lambda: True)  # a GPU user's torch: left alone
    monkeypatch.setattr(install.subprocess, "run",
                        lambda args, **kw: ran.append(args) or subprocess.CompletedProcess(args, 0, "", ""))
    install.install("torch==2.13.0", "instructor,book,dev")
    assert len(started) == 2 and not any("torch==2.13.0" in a for a in started)
    assert ran[-1][-1] == "check", "no resolver run where pip check passes"
