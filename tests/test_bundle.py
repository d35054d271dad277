"""The student bundle (``make bundle``): nothing an instructor keeps is inside, and an exercise
from it runs its visible tests in a fresh virtual environment.

Runs in the "book" group, after tests/test_book.py built ``_build/html`` (it builds the book
itself when that is missing). The bundle is made into a scratch folder, not ``dist/``.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest

from rnngrade import leaks
from rnngrade.release import SOLUTIONS
from scripts.make_bundle import NAME, forbidden, make_bundle
from tests.book import HTML, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]
TORCH_SPEC = os.environ.get("TORCH_SPEC", "torch==2.13.0")
# Text files scanned for solution and hidden-test lines (the wheel's files are scanned too).
TEXT_SUFFIXES = {".ipynb", ".html", ".htm", ".md", ".py", ".txt", ".json", ".js", ".csv", ".toml", ".cfg", ""}
# Public protocol names that are not secrets: the autograder's own code names its markers.
MARKER_DEFINITIONS = {"autograder/cells.py", "autograder/integrity.py", "autograder/markers.py"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, book_build):
    if not (HTML / "index.html").exists():
        pytest.fail(f"the book is not built (no {HTML / 'index.html'}):\n{book_build.stdout[-3000:]}")
    out = tmp_path_factory.mktemp("bundle")
    folder, zpath = make_bundle(out)
    extracted = out / "unzipped"
    with zipfile.ZipFile(zpath) as zf:
        zf.extractall(extracted)
    return zpath, extracted / NAME


def _wheel(root: Path) -> Path:
    (wheel,) = sorted((root / "wheels").glob("*.whl"))
    return wheel


def test_zip_has_book_exercises_and_wheel(bundle):
    zpath, root = bundle
    assert (root / "book" / "index.html").is_file()
    assert (root / "README.md").is_file()
    for nb in sorted((ROOT / "exercises").glob("*/*.ipynb")):
        rel = nb.relative_to(ROOT)
        assert (root / rel).read_bytes() == nb.read_bytes(), f"{rel} differs from the release"
    _wheel(root)


def test_readme_pins_the_courses_torch_and_starts_in_the_bundle(bundle):
    """A bare `pip install torch` pulls a CUDA build of several GB on Linux; the README gives
    the Makefile's pin from the CPU index, before the wheel, from inside the bundle folder."""
    from scripts.make_bundle import TORCH_SPEC as PIN

    readme = (bundle[1] / "README.md").read_text()
    torch_line = f"pip install {PIN} --index-url https://download.pytorch.org/whl/cpu"
    assert torch_line in readme and PIN == "torch==2.13.0"
    assert readme.index(torch_line) < readme.index('pip install "wheels/')
    assert f"cd path/to/{NAME}" in readme
    assert "pip install torch " not in readme and "pip install torch\n" not in readme


def test_a_chapters_exercise_link_downloads_the_notebook(bundle):
    """Read from the bundle's files, a chapter's exercise link downloads the notebook (in a
    zip) instead of showing its JSON in the browser."""
    import io

    from tests.browser import download_link, ensure_chromium

    if ensure_chromium() is None:
        pytest.fail("Chromium is missing: as root, `apt-get install -y chromium` (Debian package)")
    _, root = bundle
    release = sorted((root / "exercises").glob("ex04_*/ex04_*.ipynb"))[0]
    chapter = sorted((root / "book" / "book").glob("ch04_*.html"))[0]
    name, data = download_link(chapter, f"{release.stem}.zip")
    assert name == f"{release.stem}.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.read(f"{release.stem}/{release.name}") == release.read_bytes()
        assert "Colab" in z.read(f"{release.stem}/HOW-TO-OPEN.txt").decode()


def test_no_instructor_file_names(bundle):
    zpath, _ = bundle
    names = zipfile.ZipFile(zpath).namelist()
    bad = [f"{n} ({why})" for n in names if (why := forbidden(n.removeprefix(NAME + "/")))]
    assert not bad, f"instructor files in the bundle: {bad}"
    assert not [n for n in names if n.endswith(".safetensors")], "reference checkpoints in the bundle"


def test_wheel_holds_only_what_students_need(bundle):
    _, root = bundle
    names = zipfile.ZipFile(_wheel(root)).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"rnncourse", "autograder"}, f"unexpected packages in the student wheel: {tops}"
    shipped = {n for n in names if n.endswith(".py")}
    for package in ("rnncourse", "autograder"):  # each shipped as it is, no file picked out
        here = {p.relative_to(ROOT).as_posix() for p in (ROOT / package).rglob("*.py")
                if "__pycache__" not in p.parts}
        assert {n for n in shipped if n.startswith(package + "/")} == here
    meta = zipfile.ZipFile(_wheel(root)).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = {line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")}
    student = {r for r in requires if "extra ==" not in r}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {re.split(r"[<>=!~ \[;(]", r, maxsplit=1)[0] for r in student} == \
        {re.split(r"[<>=!~ \[;(]", r, maxsplit=1)[0] for r in project["dependencies"]}
    tools = [r for r in requires if re.match(r"(nbgrader|dask|distributed|jsonschema)\b", r)]
    assert not tools, f"the student wheel depends on instructor tools: {tools}"


def test_no_solution_or_hidden_test_text_anywhere(bundle, tmp_path):
    _, root = bundle
    secrets = leaks.secret_lines(SOLUTIONS)
    assert secrets, "no secret lines found in solutions/: the scan would prove nothing"
    with zipfile.ZipFile(_wheel(root)) as zf:
        zf.extractall(tmp_path / "wheel")
    found = {}
    for base in (root, tmp_path / "wheel"):
        for f in sorted(p for p in base.rglob("*") if p.is_file()):
            if f.suffix.lower() not in TEXT_SUFFIXES:
                continue
            rel = f.relative_to(base).as_posix()
            if f.suffix == ".ipynb":
                hits = leaks.scan_notebook(f, secrets)
            else:
                text = f.read_text(errors="replace")
                if f.suffix in (".html", ".htm"):
                    text = leaks.html_to_text(text)
                hits = leaks.scan_text(text, secrets)
                if rel in MARKER_DEFINITIONS:
                    hits = [h for h in hits if h not in leaks.MARKERS]
                if base != root and len(set(hits) - set(leaks.MARKERS)) == 1 and set(hits) <= secrets:
                    # The teaching package's code may share one ordinary line with a solution
                    # (``for n, w in enumerate(words):``); a pasted solution shares several.
                    hits = []
            if hits:
                found[rel] = hits[:3]
    assert not found, f"solution or hidden-test text in the bundle: {found}"


RUN_RELEASE = textwrap.dedent("""
    import json, sys, nbformat, nbclient
    path = sys.argv[1]
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": sys.argv[2]}})
    client.execute()
    nbformat.write(nb, path)
""")


def _test_cells(nb):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            yield meta["grade_id"], cell


def test_released_exercise_runs_its_visible_tests_in_a_fresh_venv(bundle, tmp_path):
    """As a student would: a new venv, torch, the bundled wheel; run the untouched release.

    Every test cell must run its visible tests and print its score (0: nothing is filled in)
    instead of crashing."""
    _, root = bundle
    venv = tmp_path / "venv"
    # No pip inside the venv: this interpreter's pip installs into it (``--python``), and
    # ``--no-compile`` skips byte-compiling torch's thousands of files (minutes on 2 cores).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "NBGRADER_EXECUTION", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    for args in ([TORCH_SPEC], [str(_wheel(root)), "nbclient"]):
        proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                               "--no-compile", *args], capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, f"pip install {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    where = subprocess.run([str(py), "-c", "import autograder, rnncourse; print(autograder.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert str(venv) in where.stdout, f"the venv imports autograder from elsewhere: {where.stdout}{where.stderr}"

    ex_dir = sorted(p for p in (root / "exercises").iterdir() if p.is_dir())[0]
    work = tmp_path / ex_dir.name
    work.mkdir()
    (nb_src,) = sorted(ex_dir.glob("*.ipynb"))
    nb_path = work / nb_src.name
    nb_path.write_bytes(nb_src.read_bytes())
    script = tmp_path / "run_release.py"
    script.write_text(RUN_RELEASE)
    proc = subprocess.run([str(py), str(script), str(nb_path), str(work)], capture_output=True,
                          text=True, env=env, cwd=work, timeout=900)
    assert proc.returncode == 0, f"executing {nb_path.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"

    nb = nbformat.read(nb_path, as_version=4)
    cells = dict(_test_cells(nb))
    assert cells, f"{nb_path.name} has no test cells"
    problems = []
    for gid, cell in cells.items():
        errors = [o for o in cell.outputs if o.output_type == "error"]
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        if errors:
            problems.append(f"{gid}: crashed: {errors[0].ename}: {errors[0].evalue}")
            continue
        try:
            score = float(results[-1].data["text/plain"])
        except (IndexError, KeyError, ValueError):
            problems.append(f"{gid}: no numeric score output; printed:\n{text[-500:]}")
            continue
        if score != 0:
            problems.append(f"{gid}: an untouched release scored {score}")
        if "tests passed" not in text:
            problems.append(f"{gid}: no test report printed:\n{text[-500:]}")
    assert not problems, "\n".join(problems) + "\n" + json.dumps({g: len(c.outputs) for g, c in cells.items()})
    # no warning in any cell of a fresh install (e.g. tqdm's "IProgress not found" without ipywidgets)
    stderr = [f"cell {i}: {o.text[:300]}" for i, c in enumerate(nb.cells) for o in c.get("outputs", [])
              if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, "a fresh student install prints to stderr:\n" + "\n".join(stderr)
