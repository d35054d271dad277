"""A reference checkpoint never reaches a student's grading, on either path.

Running a solution notebook in place leaves its trained model in ``solutions/<ex>/``. Before,
``rnn-grade`` built its kit with that file (a student with correct code and no checkpoint got
full marks) and plain ``nbgrader autograde`` copied it over every student's own checkpoint.
Now the release tool and ``rnn-grade`` refuse to run while one is there, and the README's
plain-nbgrader path (``nbgrader_config.py``) never lets nbgrader overwrite a student's file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rnngrade import batch, release
from rnngrade.course import ROOT as REPO
from rnngrade.course import nbgrader_env
from tests.redteam import make_batch  # noqa: E402

A = make_batch.A


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_batch.build_course(tmp_path_factory.mktemp("refck"))


def _reference(folder: Path) -> None:
    make_batch._checkpoint(folder, "good", folder)


def test_release_tool_refuses_a_source_folder_with_a_checkpoint(tmp_path):
    src = tmp_path / "source"
    shutil.copytree(REPO / "tests" / "fixtures" / "golden" / "source", src)
    (src / "mini" / "trained.safetensors").write_bytes(b"weights")
    with pytest.raises(release.ReleaseError, match="reference checkpoint"):
        release.generate_into(tmp_path / "out", ["mini"], source=src)
    assert not (tmp_path / "out").exists()


def test_rnn_grade_refuses_a_course_whose_solutions_hold_a_checkpoint(course, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])  # nbgrader runs alembic for a new gradebook
    folder = course / "solutions" / A
    _reference(folder)
    try:
        assert [p.name for p in release.reference_checkpoints(folder)] == ["rt01_model.json",
                                                                           "rt01_model.safetensors"]
        with pytest.raises(batch.GradingError, match="reference checkpoint"):
            batch.build_kit(course, A, "rnn-course")
        proc = subprocess.run([sys.executable, "-m", "rnngrade.batch", str(tmp_path), "--course", str(course),
                               "--out", str(tmp_path / "out"), "--quiet"], capture_output=True, text=True,
                              env=nbgrader_env(), timeout=300)
        assert proc.returncode == 2 and "reference checkpoint" in proc.stderr
    finally:
        for p in release.reference_checkpoints(folder):
            p.unlink()
    kit = batch.build_kit(course, A, "rnn-course")  # and once they are gone, the kit holds none
    assert not [n for n in kit.info["data_files"] if n.endswith((".safetensors", ".json"))]


def _plain_course(course: Path, root: Path):
    """A copy of the course driven by the repository's nbgrader_config.py; returns a function
    that runs an nbgrader command there."""
    shutil.copytree(course / "solutions", root / "solutions")
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "rnngrade" / "templates", root / "rnngrade" / "templates")
    (root / "grading").mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                                            f"{os.environ.get('PATH', '')}"}

    def nbgrader(*args):
        return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)
    return nbgrader


def test_plain_nbgrader_refuses_to_release_a_reference_checkpoint(course, tmp_path):
    """`nbgrader generate_assignment` with the course's config stops when the source folder
    holds a trained model, and leaves no release behind (no sys.argv test in the config: a
    preprocessor, rnngrade.nbgrader_ext.RefuseReferenceCheckpoints)."""
    root = tmp_path / "course"
    nbgrader = _plain_course(course, root)
    _reference(root / "solutions" / A)
    proc = nbgrader("generate_assignment", A, "--force")
    assert proc.returncode != 0 and "reference checkpoint" in proc.stdout + proc.stderr
    assert not list(root.glob("exercises/**/*.safetensors"))
    for p in release.reference_checkpoints(root / "solutions" / A):
        p.unlink()
    assert nbgrader("generate_assignment", A, "--force").returncode == 0
    assert (root / "exercises" / A / f"{A}.ipynb").is_file()


@pytest.mark.slow
def test_plain_nbgrader_never_replaces_a_students_checkpoint(course, tmp_path):
    """The README's path: nbgrader_config.py, `nbgrader autograde`, a reference checkpoint
    lying in solutions/ and a student who handed in correct code with an UNTRAINED model."""
    root = tmp_path / "course"
    nbgrader = _plain_course(course, root)
    assert nbgrader("generate_assignment", A, "--force").returncode == 0
    student = root / "grading" / "submitted" / "alice" / A
    student.mkdir(parents=True)
    release_nb = nbformat.read(root / "exercises" / A / f"{A}.ipynb", as_version=4)
    for cell in release_nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in make_batch.SOLUTIONS and gid != "train":
            cell.source = make_batch.filled(gid)
    nbformat.write(release_nb, student / f"{A}.ipynb")
    make_batch._checkpoint(student, "pickle", course)  # writes the json, then a bad weights file
    from rnncourse import save_checkpoint  # an untrained model: correct shapes, wrong weights

    class TinyRegressor(__import__("torch").nn.Module):
        def __init__(self, in_features=3):
            super().__init__()
            self.linear = __import__("torch").nn.Linear(in_features, 1)

    save_checkpoint(TinyRegressor(), student / "rt01_model", {"in_features": 3})
    untrained = (student / "rt01_model.safetensors").read_bytes()
    _reference(root / "solutions" / A)  # the instructor ran the solution in place
    assert (root / "solutions" / A / "rt01_model.safetensors").read_bytes() != untrained

    proc = nbgrader("autograde", A, "--force")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    graded = root / "grading" / "autograded" / "alice" / A
    assert (graded / "rt01_model.safetensors").read_bytes() == untrained
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'grading' / 'gradebook.db'}", "rnn-course") as gb:
        model = gb.find_grade("test_model", A, A, "alice")
        assert model.auto_score < model.max_score  # graded on the untrained model, not the reference
