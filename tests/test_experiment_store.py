"""rnncourse.experiments.store: a run shared by two chapters is computed once per book build,
and again whenever anything it depends on changes."""

import pickle

import pytest

from rnncourse.experiments import seq2seq, store


@pytest.fixture
def counted(monkeypatch):
    calls = []

    @store.shared_run
    def experiment(kind, steps, seed=0):
        calls.append((kind, steps, seed))
        return {"kind": kind, "steps": steps, "seed": seed, "value": len(calls)}

    return experiment, calls


def _book(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    chapter_folder = tmp_path / "book"
    chapter_folder.mkdir()
    return chapter_folder


def test_a_second_chapter_gets_the_first_ones_run(tmp_path, monkeypatch, counted):
    experiment, calls = counted
    monkeypatch.chdir(_book(tmp_path))
    first = experiment("plain", 800, seed=0)
    second = experiment("plain", 800, seed=0)
    assert calls == [("plain", 800, 0)]
    assert second == first
    kept = list((tmp_path / store.FOLDER).iterdir())
    assert len(kept) == 1 and pickle.loads(kept[0].read_bytes()) == first


def test_other_arguments_or_other_code_run_again(tmp_path, monkeypatch, counted):
    experiment, calls = counted
    monkeypatch.chdir(_book(tmp_path))
    experiment("plain", 800)
    experiment("plain", 500)
    experiment("attention", 800)
    experiment("plain", 800, seed=1)
    assert len(calls) == 4
    monkeypatch.setattr(store, "source_digest", lambda: "an edited rnncourse")
    experiment("plain", 800)
    assert len(calls) == 5, "a change of rnncourse's source must train again"


def test_outside_a_book_it_always_runs(tmp_path, monkeypatch, counted):
    experiment, calls = counted
    monkeypatch.chdir(tmp_path)
    experiment("plain", 800)
    experiment("plain", 800)
    assert len(calls) == 2
    assert not (tmp_path / "_build").exists()


def test_the_digest_changes_with_any_module_of_the_package(tmp_path):
    import shutil

    copy = tmp_path / "rnncourse"
    shutil.copytree(store.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = store.source_digest(copy)
    assert before == store.source_digest(store.PACKAGE)
    nested = copy / "experiments" / "seq2seq.py"
    nested.write_text(nested.read_text() + "\n# an edit\n")
    store.source_digest.cache_clear()
    assert store.source_digest(copy) != before


def test_the_chapters_translator_is_shared():
    """Chapters 6 and 7 both call it with seq2seq.LIST_EXPERIMENT."""
    assert seq2seq.train_list_translator.__wrapped__.__name__ == "train_list_translator"
