"""One run of an experiment that several chapters show, kept for the rest of the book build.

Chapter 6 trains the encoder–decoder without attention on lists of dates; chapter 7 draws the
same model beside its attention model. ``@shared_run`` on the training function
(``seq2seq.train_list_translator``) makes the second chapter load what the first one measured
instead of training the same model again (35 s of CPU in every cold build).

A run is kept under ``_build/experiment-runs/`` of the book being built: the nearest folder
above the kernel's working folder that holds ``_toc.yml`` (Jupyter Book runs each chapter in
its own folder). Its key is made of everything the result depends on: the function, its
arguments, the torch and Python versions, torch's thread count, and the source of every module
of ``rnncourse``. Change any of them and the experiment runs again; ``make clean`` (or deleting
``_build``) forgets every run. Where no folder above holds a ``_toc.yml`` (a student's own
copy of an exercise, the course installed from its wheel) the function just runs.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

PACKAGE = Path(__file__).resolve().parents[1]  # rnncourse/
FOLDER = Path("_build") / "experiment-runs"

T = TypeVar("T")


def book_root(start: Path | None = None) -> Path | None:
    """The book being built: the nearest folder at or above ``start`` (the working folder) with a ``_toc.yml``."""
    here = (start or Path.cwd()).resolve()
    return next((d for d in (here, *here.parents) if (d / "_toc.yml").is_file()), None)


@functools.cache
def source_digest(package: Path = PACKAGE) -> str:
    """SHA-256 of every module of ``package`` (``rnncourse``): their paths and contents."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def run_key(fn: Callable, args: tuple, kwargs: dict) -> str:
    parts = [fn.__module__, fn.__qualname__, repr(args), repr(sorted(kwargs.items())), torch.__version__,
             sys.version, str(torch.get_num_threads()), source_digest()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def shared_run(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator: inside a book build, run ``fn`` once per key and hand the kept result to later calls."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        root = book_root()
        if root is None:
            return fn(*args, **kwargs)
        path = root / FOLDER / f"{fn.__qualname__}-{run_key(fn, args, kwargs)[:32]}.pickle"
        if path.is_file():
            with open(path, "rb") as f:
                return pickle.load(f)
        result = fn(*args, **kwargs)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(result, f)
        os.replace(tmp, path)  # a reader never sees half a file
        return result

    return wrapper
