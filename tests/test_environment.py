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
