"""Make what an instructor publishes to students: dist/student-bundle/ and its zip.

    python -m scripts.make_bundle            # `make bundle` builds the book first, then runs this

The bundle holds

- ``book/``: the built HTML book (``_build/html``), readable offline;
- ``exercises/``: the released notebooks (``exercises/``, generated from ``solutions/``);
- ``wheels/rnn_course_student-<version>-py3-none-any.whl``: the student's two packages as
  they are, the teaching package ``rnncourse`` and the test-cell helper ``autograder``
  (``run_tests``, the checks, the oracles, the integrity snapshot), with the project's own
  dependencies, which are the student's; the instructor's package ``rnngrade`` and its
  extra (nbgrader, dask) are not in it;
- ``README.md``: how to start.

Never inside (checked here and by tests/test_bundle.py): solutions, hidden tests, wrong
variants, reference checkpoints, gradebooks, ``nbgrader_config.py``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from rnngrade.course import ROOT

HTML = ROOT / "_build" / "html"
EXERCISES = ROOT / "exercises"
NAME = "student-bundle"
# The course's PyTorch pin has one home, the Makefile; the bundle's README repeats it.
TORCH_SPEC = re.search(r"^TORCH_SPEC \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
# The student's packages, shipped as they are: the teaching package and the test-cell helper.
# The instructor's package (rnngrade) and its dependencies never reach a student.
STUDENT_PACKAGES = ("rnncourse", "autograder")
# File-name rules shared with tests/test_bundle.py.
FORBIDDEN_PARTS = {"solutions", "variants", "grading", "gradebook", "autograded", "submitted", "feedback"}
FORBIDDEN_NAMES = re.compile(r"(^nbgrader_config\.py$|gradebook|\.db$|\.sqlite3?$|\.safetensors$|\.pt$|"
                             r"\.pth$|\.ckpt$|\.pkl$|\.pickle$)", re.I)


class BundleError(RuntimeError):
    pass


def forbidden(rel: str) -> str | None:
    """Why the bundle path ``rel`` must not ship, or None."""
    parts = Path(rel).parts
    bad = FORBIDDEN_PARTS & {p.lower() for p in parts}
    if bad:
        return f"folder {sorted(bad)[0]!r}"
    if FORBIDDEN_NAMES.search(parts[-1]):
        return "instructor or checkpoint file"
    return None


# ----------------------------------------------------------------------------- the wheel

def build_wheel(dest: Path) -> Path:
    """Build rnn_course_student-<version>-py3-none-any.whl into ``dest``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"]  # the student runtime's; the instructor's are an extra
    with tempfile.TemporaryDirectory(prefix="student-wheel-") as tmp:
        stage = Path(tmp) / "src"
        for package in STUDENT_PACKAGES:
            shutil.copytree(ROOT / package, stage / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        deps_toml = ",\n    ".join(f'"{d}"' for d in deps)
        (stage / "pyproject.toml").write_text(f'''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "rnn-course-student"
version = "{project["version"]}"
description = "What a student of the RNN course needs to run the exercises and their visible tests"
requires-python = "{project.get("requires-python", ">=3.11")}"
dependencies = [
    {deps_toml},
]

[project.optional-dependencies]
jupyter = ["notebook>=7", "ipywidgets>=8"]

[tool.setuptools.packages.find]
include = [{", ".join(f'"{p}*"' for p in STUDENT_PACKAGES)}]
''')
        dest.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                               "-q", "-w", str(dest), str(stage)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BundleError(f"building the student wheel failed:\n{proc.stdout}\n{proc.stderr}")
    (wheel,) = sorted(dest.glob("rnn_course_student-*.whl"))
    return wheel


# ----------------------------------------------------------------------------- the bundle

README = """# Recurrent neural networks, executable: student bundle

1. **Read the book**: open `book/index.html` in a browser (it works offline).
2. **Set up Python** (3.11 or newer), once, in a terminal opened in this folder (the one that
   holds this README, `book/`, `exercises/` and `wheels/`):

   ```bash
   cd path/to/{name}        # this folder: the commands below use its wheels/
   python -m venv rnn-venv
   source rnn-venv/bin/activate              # Windows: rnn-venv\\Scripts\\activate
   pip install {torch} --index-url https://download.pytorch.org/whl/cpu
   pip install "wheels/{wheel}[jupyter]"
   ```

   The first `pip install` is the course's PyTorch, a CPU build (a 192 MB download on Linux). Install it
   before the course's wheel: a bare `pip install torch` on Linux downloads a CUDA build of
   several GB. With an NVIDIA GPU, use the CUDA index URL for your driver from pytorch.org's
   "Get started" page instead of `.../whl/cpu`. The book's set-up page (`make`, `.venv`) is for
   the course repository, which you do not need.
3. **Do an exercise**: `jupyter notebook exercises/`, open one, fill in every
   `# YOUR CODE HERE` cell, and run the test cells: each prints which visible tests pass and
   the points they give. The grader also runs hidden tests, so passing the visible ones is
   necessary, not sufficient.
4. **Train** where a notebook says so (a GPU or Colab helps; every model also trains on a
   laptop CPU in a few minutes). Hand in the notebook together with the `.safetensors` and
   `.json` files the training cell saved beside it.
"""


def make_bundle(out: Path, html: Path = HTML) -> tuple[Path, Path]:
    if not (html / "index.html").exists():
        raise BundleError(f"no built book in {html}: run `make book` first")
    notebooks = sorted(EXERCISES.glob("*/*.ipynb"))
    if not notebooks:
        raise BundleError("no released exercises in exercises/")
    folder, zpath = out / NAME, out / f"{NAME}.zip"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copytree(html, folder / "book", ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
    shutil.copytree(EXERCISES, folder / "exercises",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.safetensors"))
    wheel = build_wheel(folder / "wheels")
    (folder / "README.md").write_text(README.format(wheel=wheel.name, torch=TORCH_SPEC, name=NAME))

    files = sorted(p for p in folder.rglob("*") if p.is_file())
    bad = [f"{p.relative_to(folder)} ({why})" for p in files if (why := forbidden(str(p.relative_to(folder))))]
    if bad:
        raise BundleError("instructor files in the bundle: " + ", ".join(bad))
    if zpath.exists():
        zpath.unlink()
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in files:  # sorted, fixed timestamps: the same inputs give the same zip
            info = zipfile.ZipInfo(f"{NAME}/{p.relative_to(folder).as_posix()}", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, p.read_bytes())
    return folder, zpath


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--html", type=Path, default=HTML, help="the built book (default: _build/html)")
    args = parser.parse_args(argv)
    try:
        folder, zpath = make_bundle(args.out, args.html)
    except BundleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    n = sum(1 for p in folder.rglob("*") if p.is_file())
    print(f"{folder} ({n} files), {zpath} ({zpath.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
