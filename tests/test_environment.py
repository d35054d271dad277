"""environment.yml (conda) installs the same packages as pyproject.toml (pip)."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}  # conda-forge names that differ from PyPI's


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in py["dependencies"]}
    wanted |= {_name(r) for group in ("book", "dev") for r in py["optional-dependencies"][group]}
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
