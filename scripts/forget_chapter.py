"""Drop chapters' executed copies from the book's execution cache, so that the next `make book`
runs them again.

The cache (jupyter-cache, under ``_build/.jupyter_cache``) keys a chapter by its code. A chapter
that reads a stored result, as chapter 8 reads ``docs/benchmarks/g2p-cpu.json`` (written by
``make bench-g2p``), would otherwise keep showing the result it read the last time.

    python -m scripts.forget_chapter book/ch08_pronunciation.md [--cache _build/.jupyter_cache]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jupyter_cache import get_cache

from rnngrade.course import ROOT

CACHE = ROOT / "_build" / ".jupyter_cache"


def forget(chapters: list[Path], cache: Path = CACHE) -> list[str]:
    """Remove the cached executions of ``chapters`` (paths of their sources); the removed URIs."""
    if not cache.exists():
        return []
    wanted = {p.resolve() for p in chapters}
    store = get_cache(str(cache))
    removed = []
    for record in store.list_cache_records():
        if record.uri and Path(record.uri).resolve() in wanted:
            store.remove_cache(record.pk)
            removed.append(record.uri)
    return removed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="+", type=Path)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    removed = forget(args.chapters, args.cache)
    print(f"forgot {len(removed)} cached execution(s): {removed}" if removed else "nothing cached to forget")


if __name__ == "__main__":
    main()
