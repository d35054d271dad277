"""The scoring run: a submission's score, computed where the student's code cannot reach it.

``python -I -m rnngrade.cleanroom INPUT.json REPORT_FD`` runs inside the sandbox
(``rnngrade.sandbox``), started by the grading worker (``rnngrade.worker``). It never
runs a notebook and never starts IPython or pytest. INPUT.json holds one notebook's cells in
order, each marked ``instructor`` (locked cells, from the course), ``test`` (test cells with
their hidden tests, from the course) or ``student`` (the student's cells, from the
submission). The run:

1. executes the instructor's cells in the *instructor namespace* (test cells without their
   final ``run_tests(...)``);
2. executes only the **definitions** of each student cell (imports, functions, classes,
   constants; ``student_definitions``) in a *student namespace* of its own: no top-level
   statement of the student runs, so nothing of theirs runs while the grader loads;
3. after each test cell, runs its tests (each parametrized case; up to ``CHUNK`` of them one
   after the other) in a **fresh forked process** (``_run_chunk``), which before calling the
   tests: closes the report
   channel, sends stdout/stderr to /dev/null, removes ``os._exit``, threads, signal
   handlers and garbage-collector callbacks, and installs an audit hook (``_install_guard``)
   that cannot be removed and refuses frame, garbage-collector, ctypes, code-object,
   subprocess, signal and /proc access. The assertion helpers of ``autograder.checks`` ask
   that hook, through a default argument the student's code cannot change, to compare
   every watched library function and helper with the original before they compare
   anything (``autograder.check`` events); the hook compares once more after the test;
4. reads the verdicts from the **exit status** of that process (100 + a bitmask of the
   passed cases, 12 for tampering, anything else an error): the one value the student's
   code cannot set, because the only way to exit with it is the grader's own ``_exit``,
   held in a local variable of a frame the student cannot reach;
5. writes the outcomes (test names, pass/fail, why) as JSON to REPORT_FD, a pipe to the
   worker that no test process holds. Nothing else of this run reaches the student.

At import time this module reads only the standard library and the hidden-test markers
(``rnngrade.course``, which imports the ``autograder`` package: numpy and pytest, instructor
code): it runs as the sandbox's first Python code, before any student code.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import itertools
import json
import os
import select
import signal
import sys
import time
from dataclasses import dataclass

TAMPERED = 12  # the exit status of a test process that found tampering
TAMPER_WHY = ("the test changed functions the tests rely on, or used a forbidden operation (frames, gc, "
              "ctypes, signals, processes)")
WARM_UP = 11  # ... that failed or was refused while torch imported torch._dynamo: run it again after _warm_up
STUDENT_MODULE = "__student__"  # the __module__ of every class a student defines
INSTRUCTOR_MODULE = "__grader__"
ANNOTATIONS = __future__.annotations.compiler_flag  # annotations are never evaluated

# --------------------------------------------------------------------------- student code

DECORATORS = {  # the decorators a student definition may use (library code, constant arguments)
    "staticmethod", "classmethod", "property", "functools.wraps", "functools.lru_cache",
    "functools.cache", "lru_cache", "cache", "torch.no_grad", "torch.inference_mode",
    "torch.enable_grad", "dataclass", "dataclasses.dataclass", "abc.abstractmethod",
    "abstractmethod", "torch.jit.ignore", "torch.jit.unused", "typing.overload", "overload",
}
# methods that Python calls while a class is being created, or when an object dies
FORBIDDEN_METHODS = {"__init_subclass__", "__set_name__", "__class_getitem__", "__mro_entries__",
                     "__prepare__", "__del__"}
SAFE_NODES = (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.Set, ast.Dict,
              ast.Load, ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare, ast.Subscript, ast.Slice,
              ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.Starred, ast.JoinedStr,
              ast.FormattedValue, ast.Lambda, ast.arguments, ast.arg, ast.IfExp)


@dataclass
class Dropped:
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"line {self.line}: `{self.text}` {self.why}"


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _safe_expr(node: ast.AST | None) -> bool:
    """An expression that calls nothing written by the student when it is evaluated: names,
    attributes, constants and containers of them; lambdas (whose bodies do not run now)."""
    if node is None:
        return True
    for sub in ast.walk(node):
        if isinstance(sub, ast.Lambda):
            if not all(_safe_expr(d) for d in sub.args.defaults + [d for d in sub.args.kw_defaults if d]):
                return False
            continue
        if not isinstance(sub, SAFE_NODES) and not _inside_lambda_body(node, sub):
            return False
    return True


def _inside_lambda_body(root: ast.AST, target: ast.AST) -> bool:
    for sub in ast.walk(root):
        if isinstance(sub, ast.Lambda) and any(n is target for n in ast.walk(sub.body)):
            return True
    return False


def _safe_decorator(node: ast.AST, properties: set[str]) -> bool:
    if isinstance(node, ast.Call):
        return (_dotted(node.func) in DECORATORS and all(isinstance(a, ast.Constant) for a in node.args)
                and all(isinstance(k.value, ast.Constant) for k in node.keywords))
    name = _dotted(node)
    if name in DECORATORS:
        return True
    # @x.setter / @x.getter / @x.deleter for a property x of the same class body
    return (isinstance(node, ast.Attribute) and node.attr in {"setter", "getter", "deleter"}
            and isinstance(node.value, ast.Name) and node.value.id in properties)


def _function_ok(node, properties: set[str]) -> str:
    if node.name in FORBIDDEN_METHODS:
        return f"defines {node.name}, which the grader does not run"
    if not all(_safe_decorator(d, properties) for d in node.decorator_list):
        return "has a decorator the grader does not run (allowed: " + ", ".join(sorted(DECORATORS)) + ")"
    a = node.args
    if not all(_safe_expr(d) for d in a.defaults + [d for d in a.kw_defaults if d is not None]):
        return "has a default value that calls something (defaults may be constants or names)"
    return ""


def _class_ok(node: ast.ClassDef) -> str:
    if node.keywords:
        return "has class keywords (metaclass=...), which the grader does not run"
    if not all(_dotted(b) for b in node.bases):
        return "has a base class that is not a plain name"
    if not all(_dotted(d) in {"dataclass", "dataclasses.dataclass"} for d in node.decorator_list):
        return "has a class decorator the grader does not run"
    properties: set[str] = set()
    body = []
    for stmt in node.body:
        why = _member_ok(stmt, properties)
        if why:
            return f"has a member that {why} (line {stmt.lineno})"
        body.append(stmt)
    return ""


def _member_ok(stmt: ast.stmt, properties: set[str]) -> str:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        why = _function_ok(stmt, properties)
        if not why and any(_dotted(d) == "property" for d in stmt.decorator_list):
            properties.add(stmt.name)
        return why
    if isinstance(stmt, ast.ClassDef):
        return _class_ok(stmt)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return ""
    if isinstance(stmt, ast.Pass):
        return ""
    if isinstance(stmt, ast.Assign | ast.AnnAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if all(isinstance(n, ast.Name | ast.Tuple | ast.Store) for t in targets for n in ast.walk(t)) \
                and _safe_expr(stmt.value):
            return ""
        return "assigns a computed value (only constants and names are loaded at grading)"
    return "is a statement the grader does not run"


def student_definitions(source: str) -> tuple[list[ast.stmt], list[Dropped]]:
    """The statements of a student's cell that the scoring run executes, and those it drops.

    Kept: imports, function and class definitions (decorators from ``DECORATORS``, default
    values and class attributes that are constants or names), and assignments of constants
    or names. Dropped: everything that would run the student's code or any other code while
    the grader loads the notebook (calls, loops, ``if``, ``with``, ``try`` ...).
    """
    tree = ast.parse(python_source(source))
    keep, dropped = [], []
    lines = source.splitlines()
    for stmt in tree.body:
        why = ""
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            if isinstance(stmt, ast.ImportFrom) and stmt.level:
                why = "is a relative import"
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            why = _function_ok(stmt, set())
        elif isinstance(stmt, ast.ClassDef):
            why = _class_ok(stmt)
        elif _is_training_block(stmt):
            continue  # `if not is_grading():` is meant not to run while grading: nothing to say
        else:
            why = _member_ok(stmt, set())
            if why == "is a statement the grader does not run":
                why = "does not run at grading: only definitions do (move it into a function)"
        if why:
            text = lines[stmt.lineno - 1].strip() if stmt.lineno <= len(lines) else ""
            dropped.append(Dropped(stmt.lineno, text[:80], why))
        else:
            keep.append(stmt)
    return keep, dropped


def names_used_at_load(stmt: ast.stmt) -> set[str]:
    """The names that executing ``stmt`` (a course cell's top-level statement) would use.
    Function bodies and class methods do not run when they are defined, nor does an
    ``if not is_grading():`` block while grading: they use nothing."""
    if isinstance(stmt, ast.Import | ast.ImportFrom) or _is_training_block(stmt):
        return set()
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        parts = stmt.decorator_list + stmt.args.defaults + [d for d in stmt.args.kw_defaults if d]
    elif isinstance(stmt, ast.ClassDef):
        parts = stmt.bases + stmt.keywords + stmt.decorator_list + [
            b for b in stmt.body if not isinstance(b, ast.FunctionDef | ast.AsyncFunctionDef)]
    else:
        parts = [stmt]
    return {n.id for p in parts for n in ast.walk(p) if isinstance(n, ast.Name)}


def _is_training_block(stmt: ast.stmt) -> bool:
    t = getattr(stmt, "test", None) if isinstance(stmt, ast.If) else None
    return (isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not) and isinstance(t.operand, ast.Call)
            and _dotted(t.operand.func) in {"is_grading", "rnncourse.is_grading"})


def python_source(source: str) -> str:
    """A cell as Python: IPython magics (``%...``) and shell lines (``!...``) are removed."""
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.split("\n"))


def _test_cell_statements(source: str) -> list[ast.stmt]:
    """A test cell without its final ``run_tests(...)``: the scoring run calls the tests itself."""
    tree = ast.parse(python_source(source))
    return [s for s in tree.body
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                    and _dotted(s.value.func) == "run_tests")]


# --------------------------------------------------------------------------- the input

from .course import hidden_ranges  # noqa: E402 - the markers' one home


def course_cells(nb: dict) -> list[dict]:
    """The scoring kit of one course notebook (nbformat JSON as a dict): every code cell in
    order, the instructor's with their source, each test cell with its tests and which of
    them are hidden, each student answer cell by id only (its solution never leaves)."""
    out = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        source = "".join(cell.get("source", ""))
        gid = meta.get("grade_id")
        if meta.get("solution") or not meta.get("locked"):
            out.append({"kind": "student", "id": gid})
        elif meta.get("grade") and _calls_run_tests(source):
            tests, hidden = test_names(source)
            out.append({"kind": "test", "id": gid, "source": source, "tests": tests, "hidden": hidden,
                        "points": float(meta.get("points") or 0)})
        else:
            out.append({"kind": "instructor", "id": gid, "source": source})
    return out


def _calls_run_tests(source: str) -> bool:
    try:
        return bool(_test_cell_statements(source)) and len(_test_cell_statements(source)) < len(
            ast.parse(python_source(source)).body)
    except SyntaxError:
        return False


def test_names(source: str) -> tuple[list[str], list[str]]:
    """(every ``test_*`` function of a test cell, those inside hidden-test blocks)."""
    tree = ast.parse(python_source(source))
    ranges = hidden_ranges(source.split("\n"))
    tests, hidden = [], []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            tests.append(node.name)
            if any(a <= node.lineno <= b for a, b in ranges):
                hidden.append(node.name)
    return tests, hidden


def hidden_bindings(source: str) -> set[str]:
    """The names that a test cell's hidden-test blocks bind at the top level (their tests,
    helpers and data: ``_HELDOUT = oracle.heldout_lexicon()``). The scoring run keeps them in
    the instructor's namespace only: the student's functions, whose globals are the student's
    namespace, cannot look them up (exercise 8's private test words, their pronunciations)."""
    ranges = hidden_ranges(source.split("\n"))
    names: set[str] = set()
    for node in ast.parse(python_source(source)).body:
        if not any(a <= node.lineno <= b for a, b in ranges):
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            names |= _stored_names(node)
    return names


def _stored_names(node: ast.AST, nested: bool = False) -> set[str]:
    """The names a statement binds in its own scope: assignment, loop and ``with`` targets, and
    ``:=`` anywhere (it binds outside a comprehension too); not a comprehension's own variables."""
    out: set[str] = set()
    if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
        out.add(node.target.id)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and not nested:
        out.add(node.id)
    inner = nested or isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp | ast.Lambda)
    for child in ast.iter_child_nodes(node):
        out |= _stored_names(child, inner)
    return out


def scoring_input(kit_cells: list[dict], student_nb: dict) -> list[dict]:
    """The cells to score: the kit's, with each answer cell's source from the student's
    notebook, and the student's own extra cells after the cell they follow there."""
    known = {c["id"] for c in kit_cells if c.get("id")}
    answers: dict[str, str] = {}
    extra: dict[str | None, list[str]] = {}
    last = None
    for cell in student_nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        source = "".join(cell.get("source", ""))
        if gid in known:
            answers.setdefault(gid, source)
            last = gid
        else:
            extra.setdefault(last, []).append(source)
    out = [{"kind": "student", "id": f"your cell {i + 1} before the first exercise cell", "source": s}
           for i, s in enumerate(extra.get(None, []))]
    for c in kit_cells:
        if c["kind"] == "student":
            if c.get("id"):
                out.append({**c, "source": answers.get(c["id"], "")})
        else:
            out.append(c)
        out += [{"kind": "student", "id": f"your cell after {c['id']}", "source": s}
                for s in extra.get(c.get("id"), []) if c.get("id")]
    return out


# --------------------------------------------------------------------------- tests

def cases(fn) -> list[tuple[str, dict]]:
    """(case id, keyword arguments) for each case of a test function, as pytest names them."""
    marks = [m for m in getattr(fn, "pytestmark", []) if getattr(m, "name", "") == "parametrize"]
    if not marks:
        return [("", {})]
    axes = []
    for m in marks:  # the decorator nearest the function comes first in the name, as in pytest
        names, values = m.args[0], m.args[1]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        ids = m.kwargs.get("ids")
        axis = []
        for i, v in enumerate(values):
            vals = tuple(getattr(v, "values", v)) if len(names) > 1 or hasattr(v, "values") else (v,)
            label = ids[i] if ids else "-".join(_id(x, n, i) for x, n in zip(vals, names, strict=False))
            axis.append((str(label), dict(zip(names, vals, strict=False))))
        axes.append(axis)
    out = []
    for combo in itertools.product(*axes):
        kwargs = {}
        for _, kw in combo:
            kwargs.update(kw)
        out.append(("-".join(label for label, _ in combo), kwargs))
    return out


def _id(value, name: str, i: int) -> str:
    if isinstance(value, bool | int | float | str) or value is None:
        return str(value)
    return f"{name}{i}"


# --------------------------------------------------------------------------- the guard

DENIED_EVENTS = {
    "sys._getframe", "sys._current_frames", "sys._current_exceptions", "sys.settrace",
    "sys.setprofile", "sys.addaudithook", "gc.get_objects", "gc.get_referrers",
    "gc.get_referents", "gc.get_freeze_count", "code.__new__", "function.__new__", "os.system",
    "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg",
    "subprocess.Popen", "pty.spawn", "builtins.input", "os.startfile", "sys.remote_exec",
    "os.symlink", "os.link",  # a new name for a private file (PRIVATE_FILES_ENV) would hide it
}
# The instructor's private data files in the scoring run (exercise 8's private test words), as
# the worker mounts them: their paths, os.pathsep-separated. The tests read them while the
# course's cells load, before any student code; a test process refuses the student's code
# every open of a path whose last component is one of their names (through any folder, any
# dir_fd, any link: the student may not make links), and counts it as tampering.
PRIVATE_FILES_ENV = "RNNGRADE_PRIVATE_FILES"
DENIED_PREFIXES = ("ctypes.", "socket.", "winreg.", "_winapi.")
FRAME_ATTRS = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "gi_code", "f_back", "f_globals"}
FUNCTION_SECRETS = {"__defaults__", "__kwdefaults__", "__code__", "__globals__", "__closure__",
                    "__dict__", "__wrapped__"}
DENIED_IMPORTS = {"_testcapi", "_testinternalcapi", "_xxsubinterpreters", "_posixsubprocess",
                  "_testbuffer", "_testmultiphase", "_ctypes_test", "_xxtestfuzz"}


def _install_guard(checks: list, watched_types: set[int], tamper: list, lazy: list | None = None):
    """Install the audit hook of one test process. It cannot be removed (PEP 578), and no
    Python code can list or reach it, so what it holds in its closure is out of reach too.

    ``checks``: (mapping, key, original, label, code): the identity of ``mapping[key]`` and, for a
    Python function, of its code object must hold. ``tamper``: where
    the hook writes what it found (the caller reads it after the test). ``lazy``: where it
    notes that ``torch._dynamo`` was imported (torch does so the first time an optimizer is
    built; see ``_warm_up``).

    A sensitive operation (frames, the garbage collector, ctypes, processes, changing a
    function or a library class ...) is refused when the student's code asked for it: when,
    walking up the stack from the operation, the first frame of the notebook's code is one
    of the student's cells rather than a test or the grader. Libraries called by the tests
    keep doing what they do (torch formats stacks, importlib looks at frames).
    """
    missing = object()
    busy = [False]
    function = type(_install_guard)
    private = frozenset(os.path.basename(p) for p in os.environ.get(PRIVATE_FILES_ENV, "").split(os.pathsep) if p)
    getframe = sys._getframe
    grader = os.path.abspath(__file__)

    def verify(where: str) -> None:
        for mapping, key, original, label, code in checks:
            if mapping.get(key, missing) is not original:
                tamper.append(f"{label} was replaced ({where})")
            elif code is not None and getattr(original, "__code__", None) is not code:
                tamper.append(f"the code of {label} was replaced ({where})")

    def from_student() -> bool:
        f = getframe(2)  # 0: this function, 1: the hook, 2: the code that raised the event
        while f is not None:
            name = f.f_code.co_filename
            if name.startswith("<student"):
                return True
            if name.startswith(("<test", "<instructor")) or name == grader:
                return False
            f = f.f_back
        return False

    def student_made(obj) -> bool:
        code = getattr(obj, "__code__", None)  # inside the hook: no event of its own
        return (getattr(code, "co_filename", "") or "").startswith("<student")

    def refuse(what: str, record: bool = True):
        if record:
            tamper.append(f"the student's code {what}")
        raise PermissionError(f"{what}: not allowed while grading")

    def hook(event, args):
        if busy[0]:
            return
        busy[0] = True
        try:
            if event == "autograder.check":
                verify("while a test compared results")
                if tamper:
                    raise AssertionError("tampering detected")
            elif event == "import":
                if lazy is not None and args and isinstance(args[0], str) and args[0].startswith("torch._dynamo"):
                    lazy.append(args[0])
                if args and args[0] in DENIED_IMPORTS:
                    refuse(f"imported {args[0]}")
            elif event == "compile":  # every notebook cell was compiled before this process began:
                name = args[1] if len(args) > 1 else None  # a new "<test ...>" would pose as one
                if isinstance(name, str | bytes) and (os.fsdecode(name).startswith(("<test", "<instructor",
                                                                                    "<student"))
                                                      or os.fsdecode(name) == grader):
                    refuse(f"compiled code under the name {os.fsdecode(name)!r}")
            elif event in DENIED_EVENTS or event.startswith(DENIED_PREFIXES):
                if from_student():
                    refuse(f"used {event}")
            elif event == "open":
                path = args[0]
                if (isinstance(path, int) or (isinstance(path, str | bytes) and os.fsdecode(path).startswith(
                        ("/proc", "/dev/fd", "/dev/mem", "/sys")))) and from_student():
                    refuse(f"opened {path!r}", record=False)
                if (private and isinstance(path, str | bytes)
                        and os.path.basename(os.fsdecode(path).rstrip("/")) in private and from_student()):
                    refuse("opened the instructor's private data file")
            elif event == "object.__getattr__":
                obj, name = args
                if (name in FRAME_ATTRS or (name in FUNCTION_SECRETS and isinstance(obj, function)
                                            and not student_made(obj))) and from_student():
                    refuse(f"read .{name} of {getattr(obj, '__qualname__', type(obj).__name__)}")
            elif event in ("object.__setattr__", "object.__delattr__"):
                obj, name = args[0], args[1]
                if (id(obj) in watched_types or name == "__del__"
                        or (isinstance(obj, function) and not student_made(obj))) and from_student():
                    refuse(f"changed {getattr(obj, '__qualname__', type(obj).__name__)}.{name}")
        finally:
            busy[0] = False

    sys.addaudithook(hook)
    return verify


def _disarm() -> None:
    """Take away what could outlive the test or end it early: os._exit, new threads,
    signal handlers and timers, garbage-collector callbacks, weakref finalizers."""
    import gc
    import threading

    deny = _denied
    real_exit = os._exit
    for mod in list(sys.modules.values()):
        d = getattr(mod, "__dict__", None)
        if isinstance(d, dict):
            for k, v in list(d.items()):
                if v is real_exit:
                    d[k] = deny
    import _thread

    for name in ("start_new_thread", "start_new", "interrupt_main"):
        if hasattr(_thread, name):
            setattr(_thread, name, deny)
    threading._start_new_thread = deny
    for mod in (signal, sys.modules.get("_signal")):
        for name in ("signal", "setitimer", "alarm", "pthread_kill", "raise_signal", "set_wakeup_fd"):
            if mod is not None and hasattr(mod, name):
                setattr(mod, name, deny)
    gc.disable()
    gc.callbacks.clear()
    gc.enable = gc.collect = gc.freeze = deny
    weakref = sys.modules.get("weakref")
    if weakref is not None:
        weakref.finalize = deny


def _denied(*args, **kwargs):
    raise PermissionError("not allowed while grading")


# --------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    name: str
    hidden: bool
    outcome: str  # passed | failed | tampering | timeout | crashed | error
    why: str = ""


CHUNK = 7  # test cases per test process: their verdicts are the 7 low bits of its exit status
VERDICTS = 100  # exit status = VERDICTS + bitmask of the passed cases (100..227)


def _run_chunk(chunk: list, report_fd: int, checks: list, watched_types: set[int],
               timeout: float) -> tuple[dict[int, tuple[str, str]], list[int]]:
    """Run up to CHUNK test cases, one after the other, in one forked test process.

    Returns (decided, retry): ``decided`` maps a position in ``chunk`` to (outcome, why), read
    from the exit status alone; ``retry`` lists the positions to run again in a new process:
    when a case overran its time or the process died, the case in progress is decided
    (timeout / crashed) and the others are run again, so one case's hang costs the others
    nothing. Which case is in progress is learnt from a progress pipe that the test process
    writes before each case: the student's code can write it too, which can only make P run
    cases again (never pass one).
    """
    _exit, close, dup2, opened, write = os._exit, os.close, os.dup2, os.open, os.write
    debug = os.environ.get("CLEANROOM_DEBUG_FILE")  # for the grader's developers: why a case failed
    progress_r, progress_w = os.pipe()
    import gc

    gc.freeze()  # the objects loaded so far: never traversed in a child (copy-on-write stays shared)
    pid = os.fork()
    if pid == 0:  # the test process: nothing below may return
        code = 13
        try:
            close(report_fd)
            close(progress_r)
            null = opened(os.devnull, os.O_RDWR)
            dup2(null, 0)
            dup2(null, 1)
            dup2(null, 2)
            _disarm()
            tamper: list[str] = []
            lazy: list[str] = [] if "torch._dynamo" not in sys.modules else None
            verify = _install_guard(checks, watched_types, tamper, lazy)
            mask = 0
            for pos, (fn, kwargs) in enumerate(chunk):
                try:
                    write(progress_w, bytes([pos]))
                except OSError:
                    pass
                ok = False
                try:
                    fn(**kwargs)
                    ok = True
                except BaseException as e:  # noqa: BLE001 - a failed test, whatever it raised
                    ok = False
                    if debug:  # the grader's developers only: never set while grading
                        import traceback

                        with open(debug, "a") as f:
                            f.write("".join(traceback.format_exception(e))[-3000:] + "\n")
                verify("after the test")
                if ok and not tamper:
                    mask |= 1 << pos
            code = TAMPERED if tamper else VERDICTS + mask
            if lazy and (tamper or mask != (1 << len(chunk)) - 1):
                code = WARM_UP  # not the student's doing, perhaps: P decides (_run_cases)
            if debug and tamper:  # the grader's developers only: never set while grading
                with open(debug, "a") as f:
                    f.write("\n".join(tamper[:20]) + "\n")
        finally:
            _exit(code)
    os.close(progress_w)
    current, started, status, killed = 0, time.monotonic(), None, False
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    while status is None:
        left = started + timeout - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            killed = True
            break
        waits = [progress_r] + ([pidfd] if pidfd is not None else [])
        ready, _, _ = select.select(waits, [], [], min(left, 0.05) if pidfd is None else left)
        if progress_r in ready:
            data = os.read(progress_r, 64)
            if data:
                current, started = data[-1] % max(1, len(chunk)), time.monotonic()
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    os.close(progress_r)
    if pidfd is not None:
        os.close(pidfd)
    everyone = list(range(len(chunk)))
    if killed:
        return {current: ("timeout", f"did not finish within {timeout:g} s")}, [i for i in everyone if i != current]
    if os.WIFSIGNALED(status):
        why = f"the test process was killed by signal {os.WTERMSIG(status)} (memory limit, crash or kill)"
        return {current: ("crashed", why)}, [i for i in everyone if i != current]
    code = os.WEXITSTATUS(status)
    if code == WARM_UP:
        return {i: ("warm-up", "torch imported torch._dynamo during the test") for i in everyone}, []
    if code == TAMPERED:
        return {i: ("tampering", TAMPER_WHY) for i in everyone}, []
    if VERDICTS <= code < VERDICTS + (1 << len(chunk)):
        mask = code - VERDICTS
        return {i: ("passed", "") if mask >> i & 1 else ("failed", "") for i in everyone}, []
    return {i: ("error", f"the test process ended with status {code}") for i in everyone}, []


def _run_cases(todo: list, report_fd: int, checks: list, watched_types: set[int],
               timeout: float, warm_up=None) -> list[tuple[str, str]]:
    """(outcome, why) for each (fn, kwargs) of ``todo``, CHUNK cases per test process.

    A chunk whose test process failed or was refused while torch imported ``torch._dynamo``
    (exit status WARM_UP) is run once more after ``warm_up()``, which loads it in P and
    returns the watched names anew: the second run decides. A student's code that imports it
    on purpose gains nothing: the second run is the run every test would get with the
    import done beforehand, as exercise 2's tests always do."""
    results: dict[int, tuple[str, str]] = {}
    pending = list(range(len(todo)))
    while pending:
        ids = pending[:CHUNK]
        decided, retry = _run_chunk([todo[i] for i in ids], report_fd, checks, watched_types, timeout)
        if warm_up is not None and any(outcome == "warm-up" for outcome, _ in decided.values()):
            checks, watched_types = warm_up()
            warm_up = None
            continue  # the same chunk again
        for pos, (outcome, _) in decided.items():
            if outcome == "warm-up":  # again, with torch._dynamo loaded before the fork
                decided[pos] = ("tampering", TAMPER_WHY)
        results.update({ids[pos]: res for pos, res in decided.items()})
        pending = [ids[pos] for pos in retry] + pending[CHUNK:]
    return [results[i] for i in range(len(todo))]


def _watched(ns: dict, trusted: set[str]) -> tuple[list, set[int]]:
    """What must not change during a test: the public functions, classes and modules of the
    libraries and course packages, the builtins, the instructor's names and the methods of
    the classes the oracles use. Plain values (flags, counters) may change legitimately."""
    prefixes = ("numpy", "torch.nn", "torch.testing", "autograder", "rnncourse", "math", "functools")
    checks, types_ = [], set()
    mods = {n: m for n, m in list(sys.modules.items())
            if m is not None and (n in ("torch", "builtins", "sys", "pytest", "operator")
                                  or n.startswith(prefixes))}
    for mod_name, mod in mods.items():
        d = getattr(mod, "__dict__", None)
        if not isinstance(d, dict):
            continue
        own = mod_name.startswith(("autograder", "rnncourse"))
        for k, v in list(d.items()):
            if k.startswith("__") and k != "__import__":
                continue
            if callable(v) or isinstance(v, type(sys)) or own:
                if own and not (callable(v) or isinstance(v, type(sys) | dict | list | tuple)):
                    continue
                checks.append((d, k, v, f"{mod_name}.{k}", _code(v)))
            if isinstance(v, type) and (getattr(v, "__module__", "") or "").startswith(
                    ("numpy", "torch", "autograder", "rnncourse", "builtins")):
                types_.add(id(v))
    for k in sorted(trusted):
        if k in ns and not k.startswith("__"):
            checks.append((ns, k, ns[k], f"the notebook's {k}", _code(ns[k])))
            if isinstance(ns[k], type):
                types_.add(id(ns[k]))
    return checks, types_


def _code(obj):
    """A Python function's code object (checked as well as the function's identity), else None."""
    return obj.__code__ if isinstance(obj, type(_code)) else None


def _may_build_an_optimizer(cells: list[dict]) -> bool:
    """Whether the code a test process may run mentions ``optim``: the instructor's cells and
    the definitions kept from the student's cells (never a student's top-level training loop,
    which the scoring run does not execute). A miss costs one rerun, not a verdict
    (``_run_cases``)."""
    for cell in cells:
        src = cell.get("source") or ""
        if cell.get("kind") == "student":
            try:
                src = "\n".join(ast.unparse(stmt) for stmt in student_definitions(src)[0])
            except SyntaxError:
                continue
        if "optim" in src:
            return True
    return False


def _warm_up() -> None:
    """Let torch do here, in P, what it does lazily the first time an optimizer is built and
    used: import ``torch._dynamo`` (through ``torch._compile``; it registers ``weakref.finalize``
    callbacks) and fill ``typing``'s caches (``typing_extensions`` reads ``sys._getframe`` on a
    first ``Optional[...]``, in ``zero_grad``'s profiler). In a test process, both would be
    refused (after ``_disarm``, and under the guard, called from student code) and fail a
    correct test. Done before any test process when ``_may_build_an_optimizer`` (exercise 2's
    truncated BPTT), else only if a test process asks for it (exit status WARM_UP): importing
    ``torch._dynamo`` costs about as much CPU as importing torch."""
    try:
        import torch

        weight = torch.zeros(1, requires_grad=True)
        for optimizer in (torch.optim.SGD([weight], lr=0.1), torch.optim.Adam([weight], lr=0.1)):
            optimizer.zero_grad()
            (2 * weight).sum().backward()
            optimizer.step()
    except Exception:  # noqa: BLE001 - no torch here: nothing to warm up
        pass


def score(cells: list[dict], report_fd: int, test_timeout: float) -> dict:
    """Execute the cells as described in the module docstring; return the report."""
    warmed = _may_build_an_optimizer(cells)
    if warmed:
        _warm_up()
    instructor: dict = {"__name__": INSTRUCTOR_MODULE, "__builtins__": builtins}
    student: dict = {"__name__": STUDENT_MODULE, "__builtins__": dict(vars(builtins))}
    owned: set[str] = set()  # names the instructor's cells bind

    def warm_up():  # asked for by a test process (_run_cases): torch._dynamo, then the names anew
        nonlocal warmed
        _warm_up()
        warmed = True
        return _watched(instructor, owned)

    report = {"cells": {}, "dropped": [], "errors": []}
    broken = ""
    for i, cell in enumerate(cells):
        kind, gid, src = cell["kind"], cell.get("id") or f"cell {i + 1}", cell.get("source") or ""
        filename = f"<{kind} {gid}>"
        if kind == "student":
            if broken:
                continue
            try:
                stmts, dropped = student_definitions(src)
            except SyntaxError as e:
                report["dropped"].append(f"{gid}: a syntax error on line {e.lineno}: nothing of this cell "
                                         "is graded")
                continue
            report["dropped"] += [f"{gid}: {d}" for d in dropped]
            for stmt in stmts:
                code = compile(ast.Module([stmt], []), filename, "exec", flags=ANNOTATIONS, dont_inherit=True)
                try:
                    exec(code, student)
                except Exception as e:  # noqa: BLE001 - e.g. importing a package that is not installed
                    report["dropped"].append(f"{gid}: line {stmt.lineno} failed while loading: "
                                             f"{type(e).__name__}: {str(e)[:120]}")
            for k, v in student.items():
                if k.startswith("__") or instructor.get(k, None) is v:
                    continue
                if k in owned:
                    if _student_made(v):
                        report["dropped"].append(f"{gid}: redefines {k}, which the notebook defines: "
                                                 "the tests use the notebook's")
                    continue
                instructor[k] = v
            continue
        stmts = _test_cell_statements(src) if kind == "test" else ast.parse(python_source(src)).body
        # never in this process: a training or demo block, or anything that would call student code
        # (the release tool refuses such a cell; this is the second line)
        theirs = {k for k in student if k not in owned and not k.startswith("__")}
        stmts = [st for st in stmts if not _is_training_block(st) and not names_used_at_load(st) & theirs]
        before = {k: id(v) for k, v in instructor.items()}
        try:
            if not broken:
                exec(compile(ast.Module(stmts, []), filename, "exec", dont_inherit=True), instructor)
        except Exception as e:  # noqa: BLE001 - the notebook cannot be graded past this cell
            # the student sees that it happened; the instructor (the worker's log) sees why
            broken = f"the course's cell {gid} could not be loaded (a problem of the grader, not of your work)"
            report["errors"].append(broken)
            report.setdefault("instructor_errors", []).append(f"{gid}: {type(e).__name__}: {str(e)[:300]}")
        # what this cell bound is the instructor's, in both namespaces, except what a hidden-test
        # block bound: the tests and their data stay where the student's code cannot look them up
        hidden_names = hidden_bindings(src) if kind == "test" else set()
        for k, v in instructor.items():
            if not k.startswith("__") and before.get(k) != id(v):
                owned.add(k)
                if k not in hidden_names:
                    student[k] = v
        if kind != "test":
            continue
        outcomes, todo = [], []
        hidden = set(cell.get("hidden", []))
        for name in cell.get("tests", []):
            fn = instructor.get(name)
            code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
            if broken or code is None or code.co_filename != filename:
                outcomes.append(Outcome(name, name in hidden, "error", broken or "the test was not defined"))
                continue
            for case_id, kwargs in cases(fn):
                outcomes.append(Outcome(f"{name}[{case_id}]" if case_id else name, name in hidden, ""))
                todo.append((len(outcomes) - 1, fn, kwargs))
        if todo:
            checks, watched_types = _watched(instructor, owned)
            found = _run_cases([(fn, kw) for _, fn, kw in todo], report_fd, checks, watched_types, test_timeout,
                               warm_up=None if warmed else warm_up)
            for (at, _, _), (outcome, why) in zip(todo, found, strict=True):
                outcomes[at].outcome, outcomes[at].why = outcome, why
        report["cells"][gid] = {"points": cell.get("points", 0),
                                "tests": [o.__dict__ for o in outcomes]}
    return report


def _student_made(obj) -> bool:
    code = getattr(getattr(obj, "__wrapped__", obj), "__code__", None)
    mod = getattr(obj, "__module__", "")
    return mod == STUDENT_MODULE or bool(code and code.co_filename.startswith("<student"))


def _not_dumpable() -> None:
    """No process of the sandbox (the tests included) may ptrace this one or read its /proc."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except Exception:  # noqa: BLE001 - not Linux: the tests' audit hook still refuses /proc
        pass


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: python -I -m rnngrade.cleanroom INPUT.json REPORT_FD TEST_TIMEOUT_S\n")
        return 2
    with open(argv[0], encoding="utf-8") as f:
        data = json.load(f)
    report_fd, timeout = int(argv[1]), float(argv[2])
    os.set_inheritable(report_fd, False)
    _not_dumpable()
    try:
        report = score(data["cells"], report_fd, timeout)
    except Exception as e:  # noqa: BLE001 - reported to the worker
        report = {"cells": {}, "dropped": [], "errors": [f"the scoring run failed: {type(e).__name__}: {e}"]}
    payload = json.dumps(report).encode()
    with os.fdopen(report_fd, "wb") as out:
        out.write(payload)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
