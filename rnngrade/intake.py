"""Read a class's submissions from a folder or a zip, safely, into memory.

Accepted layouts (``rnn-grade --help`` repeats this):

1. **Folder per student**: ``<folder>/<student>/<assignment>/<notebook>.ipynb`` plus the
   files saved beside the notebook (checkpoints ``*.safetensors`` + ``*.json``). This is
   nbgrader's ``submitted/`` layout; ``<folder>/submitted/...`` is accepted too. An
   optional ``timestamp.txt`` in the assignment folder is nbgrader's submission time.
2. **The same tree as a zip** (``<student>/<assignment>/...`` entries, optionally under
   one top folder).
3. **Flat LMS zip** (Moodle, Canvas, Blackboard downloads): entries
   ``<student>_<anything>_<notebook>.ipynb`` and ``<student>_<anything>_<file>``, where
   ``<student>`` is everything before the first ``_``. Files are matched to an
   assignment by their name ending (``..._ex01_rnn_basics.ipynb``,
   ``..._ex01_rnn_classifier.safetensors``); Canvas' ``-1``, ``-2`` resubmission suffixes
   are dropped. A file that matches nothing is kept with the student's only assignment,
   or reported.

Allow-list: a submission yields only its assignment's notebook(s) and the checkpoint files
that the notebook's ``CHECKPOINT`` names (``name*.safetensors``, ``name*.json``), each under a
size cap; any other file (a ``conftest.py``, a ``numpy.py``, a ``pytest.ini`` ...) is dropped
and said so in the submission's errors. ``timestamp.txt`` is read, but the grader uses it only
when the instructor asks (``--trust-timestamps``). A student name with spaces (Moodle's
``Jane Doe_12345_assignsubmission_file_...``) becomes the id ``Jane-Doe``, and its words the
first and last names that the gradebook and formgrader show.

Safety: symbolic links are never followed (a link to the instructor's files is skipped
and reported), zip entries with absolute or ``..`` paths are refused, and a file over
``MAX_FILE`` or a submission over ``MAX_SUBMISSION`` bytes is dropped with an error, so a
hostile upload cannot make the coordinator read outside the class folder or fill memory.
"""

from __future__ import annotations

import fnmatch
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_FILE = 100 * 2**20
MAX_NOTEBOOK = 32 * 2**20
MAX_SUBMISSION = 256 * 2**20
SKIP = ("__MACOSX", ".ipynb_checkpoints", "__pycache__", ".DS_Store", ".git")
STUDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


def student_id(name: str) -> str:
    """The id nbgrader gets: runs of white space become one '-' ("Jane Doe" -> "Jane-Doe")."""
    return "-".join(name.split())


def student_names(name: str) -> tuple[str, str] | None:
    """(first, last) when the download carries a person's name (Moodle's "Jane Doe", "Ana
    María López"), the last word being the last name; None for an id without spaces."""
    words = name.split()
    return (" ".join(words[:-1]), words[-1]) if len(words) > 1 else None

RESUBMISSION_RE = re.compile(r"-\d+(?=\.[A-Za-z0-9]+$)")


@dataclass
class Submission:
    student: str
    assignment: str
    files: dict[str, bytes] = field(default_factory=dict)  # path relative to the assignment folder
    errors: list[str] = field(default_factory=list)
    timestamp: str | None = None
    names: tuple[str, str] | None = None  # (first, last) when the download carries them

    @property
    def key(self) -> tuple[str, str]:
        return self.student, self.assignment


@dataclass
class Intake:
    submissions: list[Submission]
    problems: list[str]  # things that belong to no submission


def read(path: Path, assignments: dict[str, dict[str, list[str]]]) -> Intake:
    """Submissions under ``path`` (a folder or a zip).

    ``assignments`` maps each assignment to ``{"notebooks": [...], "files": [...]}``: the
    expected notebook names and other known file names (used to sort a flat LMS zip).
    """
    path = Path(path)
    if path.is_dir():
        root = path / "submitted" if (path / "submitted").is_dir() else path
        return _from_tree(_walk_folder(root), assignments)
    if zipfile.is_zipfile(path):
        entries = _zip_entries(path)
        if entries.problems and not entries.files:
            return Intake([], entries.problems)
        names = list(entries.files)
        if names and all("/" not in n for n in names):
            out = _from_flat(entries.files, assignments)
        else:
            out = _from_tree(_strip_top(entries.files, assignments), assignments)
        out.problems[:0] = entries.problems
        return out
    raise FileNotFoundError(f"{path}: neither a folder nor a zip file")


# --------------------------------------------------------------------------- sources

@dataclass
class _Entries:
    files: dict[str, bytes | str]  # relative posix path -> bytes, or an error text for that file
    problems: list[str]


def _walk_folder(root: Path) -> _Entries:
    files: dict[str, bytes | str] = {}
    problems: list[str] = []
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(d.iterdir())
        except OSError as e:
            problems.append(f"{d}: cannot list ({e.strerror})")
            continue
        for p in entries:
            rel = p.relative_to(root).as_posix()
            if p.name in SKIP:
                continue
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                files[rel] = "a symbolic link: skipped (links are never followed)"
            elif stat.S_ISDIR(st.st_mode):
                stack.append(p)
            elif not stat.S_ISREG(st.st_mode):
                files[rel] = "not a regular file: skipped"
            elif st.st_size > MAX_FILE:
                files[rel] = f"{st.st_size / 2**20:.0f} MiB, over the {MAX_FILE // 2**20} MiB limit: skipped"
            else:
                files[rel] = p.read_bytes()
    return _Entries(files, problems)


def _zip_entries(path: Path) -> _Entries:
    files: dict[str, bytes | str] = {}
    problems: list[str] = []
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if info.is_dir() or any(p in SKIP for p in parts):
                continue
            if name.startswith("/") or ".." in parts or ":" in parts[0]:
                problems.append(f"{path.name}: entry {name!r} has an unsafe path: skipped")
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                files[name] = "a symbolic link: skipped"
                continue
            if info.file_size > MAX_FILE:
                files[name] = f"{info.file_size / 2**20:.0f} MiB, over the limit: skipped"
                continue
            total += info.file_size
            if total > 64 * MAX_SUBMISSION:
                problems.append(f"{path.name}: more than {64 * MAX_SUBMISSION // 2**30} GiB unpacked: stopped")
                break
            try:
                data = zf.read(info)
            except Exception as e:  # noqa: BLE001 - corrupt entry
                files[name] = f"cannot be unpacked ({e})"
                continue
            files[name] = data
    return _Entries(files, problems)


def _strip_top(files: dict, assignments: dict) -> _Entries:
    """Drop a single top folder (``class/alice/ex01/...``) when the tree starts one level down."""
    tops = {n.split("/")[0] for n in files}
    seconds = {n.split("/")[2] for n in files if n.count("/") >= 3}
    if len(tops) == 1 and seconds & set(assignments) and "submitted" not in tops:
        top = tops.pop()
        files = {n[len(top) + 1:]: v for n, v in files.items()}
    elif tops == {"submitted"}:
        files = {n[len("submitted/"):]: v for n, v in files.items()}
    return _Entries(files, [])


# --------------------------------------------------------------------------- layouts

def _from_tree(entries: _Entries, assignments: dict) -> Intake:
    subs: dict[tuple[str, str], Submission] = {}
    problems = list(entries.problems)
    for rel, data in entries.files.items():
        parts = rel.split("/")
        if len(parts) < 3:
            problems.append(f"{rel}: not in <student>/<assignment>/ (ignored)")
            continue
        raw, assignment, inner = parts[0], parts[1], "/".join(parts[2:])
        student = student_id(raw)
        if not STUDENT_RE.match(student):
            problems.append(f"{rel}: {student!r} is not a usable student id (ignored)")
            continue
        if assignment not in assignments:
            problems.append(f"{rel}: unknown assignment {assignment!r} (ignored)")
            continue
        _add(subs, student, assignment, inner, data, assignments[assignment], student_names(raw))
    return Intake(_finish(subs), problems)


def _from_flat(files: dict, assignments: dict) -> Intake:
    subs: dict[tuple[str, str], Submission] = {}
    problems: list[str] = []
    known = []  # (file name, assignment), longest first
    for a, spec in assignments.items():
        known += [(f"{n}.ipynb", a) for n in spec["notebooks"]] + [(f, a) for f in spec.get("files", [])]
    known.sort(key=lambda x: -len(x[0]))
    unmatched = []
    for name, data in files.items():
        raw, sep, rest = name.partition("_")
        student = student_id(raw)
        if not sep or not STUDENT_RE.match(student):
            problems.append(f"{name}: not named <student>_<anything>_<file> (ignored)")
            continue
        rest = RESUBMISSION_RE.sub("", rest)
        for fname, a in known:
            found = _flat_match(rest, fname)
            if found:
                _add(subs, student, a, found, data, assignments[a], student_names(raw))
                break
        else:
            unmatched.append((student, rest, data, name))
    for student, rest, data, name in unmatched:
        mine = [s for s in subs.values() if s.student == student]
        fname = rest.split("_", 1)[1] if "_" in rest else rest
        if len(mine) == 1:
            _add(subs, student, mine[0].assignment, fname, data, assignments[mine[0].assignment])
            if fname.endswith(".ipynb"):
                mine[0].errors.append(f"{name}: an extra notebook {fname!r} (renamed?)")
        else:
            problems.append(f"{name}: matches no assignment's file names (ignored)")
    return Intake(_finish(subs), problems)


def _flat_match(rest: str, pattern: str) -> str:
    """The file name inside a flat LMS entry name that matches ``pattern`` ('' if none)."""
    if fnmatch.fnmatchcase(rest, pattern):
        return rest
    for i, ch in enumerate(rest):
        if ch == "_" and fnmatch.fnmatchcase(rest[i + 1:], pattern):
            return rest[i + 1:]
    return ""


def _allowed(inner: str, spec: dict) -> int:
    """The size cap of a file the assignment takes, or 0 when it takes no such file."""
    if inner in {f"{n}.ipynb" for n in spec.get("notebooks", [])}:
        return MAX_NOTEBOOK
    if "/" not in inner and any(fnmatch.fnmatchcase(inner, p) for p in spec.get("files", [])):
        return MAX_FILE
    return 0


def _add(subs: dict, student: str, assignment: str, inner: str, data: bytes | str, spec: dict,
         names: tuple[str, str] | None = None) -> None:
    sub = subs.setdefault((student, assignment), Submission(student, assignment))
    sub.names = sub.names or names
    if isinstance(data, str):
        sub.errors.append(f"{inner}: {data}")
        return
    if inner == "timestamp.txt":
        sub.timestamp = data.decode(errors="replace").strip()[:64]
        return
    cap = _allowed(inner, spec)
    if not cap and inner.endswith(".ipynb"):
        names = ", ".join(f"{n}.ipynb" for n in spec.get("notebooks", []))
        sub.errors.append(f"{inner}: dropped: the notebook must be named {names} (rename it)")
        return
    if not cap:
        sub.errors.append(f"{inner}: dropped: this exercise takes only its notebook and checkpoint files")
        return
    if len(data) > cap:
        sub.errors.append(f"{inner}: {len(data) / 2**20:.0f} MiB, over the {cap // 2**20} MiB limit: dropped")
        return
    size = sum(len(v) for v in sub.files.values()) + len(data)
    if size > MAX_SUBMISSION:
        sub.errors.append(f"{inner}: the submission is over {MAX_SUBMISSION // 2**20} MiB: skipped")
        return
    sub.files[inner] = data


def _finish(subs: dict) -> list[Submission]:
    return [subs[k] for k in sorted(subs)]
