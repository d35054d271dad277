"""scripts.forget_chapter drops exactly the named chapters from the book's execution cache."""

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

from scripts.forget_chapter import forget


def _cache_chapter(cache, uri, text):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"print({text!r})")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cache.cache_notebook_bundle(CacheBundleIn(nb, str(uri)), check_validity=False, overwrite=True)


def test_forget_removes_only_the_named_chapters(tmp_path):
    cache = get_cache(str(tmp_path / "cache"))
    ch08, ch07 = tmp_path / "book" / "ch08.md", tmp_path / "book" / "ch07.md"
    _cache_chapter(cache, ch08, "eight")
    _cache_chapter(cache, ch07, "seven")
    assert len(cache.list_cache_records()) == 2
    assert forget([ch08], tmp_path / "cache") == [str(ch08)]
    assert [r.uri for r in cache.list_cache_records()] == [str(ch07)]
    assert forget([ch08], tmp_path / "cache") == []            # nothing left to forget
    assert forget([ch08], tmp_path / "no-cache") == []         # no cache yet: nothing to do
