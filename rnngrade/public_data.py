"""Exercise 8's public data: was the model trained on the test words? A review flag, never a zero.

A student has the whole CMU Pronouncing Dictionary, test words included. The grader compares the
handed-in model's word error rate on a sample of the test words with its WER on a *matched*
sample of training words (the same number of words, each of the same length as a test word of
the sample) and flags, for the instructor's review, a model whose test error is implausibly close
to its training error although it fits its training words well (docs/grading.md, "Public data").

The check never runs the student's code. Exercise 8 fixes the model's architecture (the given
``__init__`` methods name every weight; the notebook specifies the forward pass exactly), so the
grader loads the checkpoint's weights into the course's own implementation of that architecture,
``rnncourse.experiments.g2p.G2P`` (a bidirectional GRU encoder, a projected bridge, a GRU decoder
with scaled "general" attention), and decodes greedily there. Student code cannot change the
comparison: it does not run, in this process or elsewhere; only the safetensors file (plain
tensors) and the JSON of constructor arguments (checked: five integers in range, and optionally
the training dropout, a probability that plays no part in decoding) are read.

The rule. ``n`` words on each side; ``gap = WER(test) - WER(train)``, with the standard error of
a difference of two proportions ``se = sqrt(p_test (1 - p_test) / n + p_train (1 - p_train) / n)``.
Flagged when the model fits its training words (``WER(train) <= FITS``) and the gap is not
clearly positive (``gap < max(MIN_GAP, 2 se)``). A model that does not fit its training words
has no gap whether or not it saw the test words (the CPU configuration's checkpoint: 0.49 on
training words, 0.49 on test words), so it is never flagged: the rule can only speak about
models that have learned their training words. The thresholds are heuristics, not a proof.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ASSIGNMENT = "ex08_pronunciation"
CHECKPOINT = "ex08_g2p"
N_WORDS = 500     # on each side (2 standard errors of the gap: 0.04 to 0.06 for WERs of 0.1 to 0.3)
SEED = 8_0808     # which training words match the test words
FITS = 0.30       # a model with at most this WER on its training words "fits" them
MIN_GAP = 0.03    # the smallest test-minus-train WER gap that is not "implausibly close"
INIT_ARGS = ("n_letters", "n_phonemes", "embed_dim", "hidden_size", "decoder_size")
OPTIONAL_ARGS = ("dropout",)  # probabilities that act in training only: the model decodes without them

# exercise 8's weight names -> rnncourse.experiments.g2p.G2P's
RENAME = {"encoder.embedding.": "letter_embed.", "encoder.rnn.": "encoder.", "encoder.bridge.": "bridge_h.",
          "decoder.embedding.": "phoneme_embed.", "decoder.rnn.": "decoder.", "decoder.query.": "query.",
          "decoder.combine.": "combine.", "decoder.out.": "out."}


class CheckError(Exception):
    """The checkpoint cannot be checked (missing, malformed, another architecture)."""


@dataclass(frozen=True)
class Comparison:
    test_wer: float
    train_wer: float
    n: int

    @property
    def gap(self) -> float:
        return self.test_wer - self.train_wer

    @property
    def se(self) -> float:
        p, q = self.test_wer, self.train_wer
        return math.sqrt(p * (1 - p) / self.n + q * (1 - q) / self.n)

    @property
    def implausible(self) -> bool:
        return self.train_wer <= FITS and self.gap < max(MIN_GAP, 2 * self.se)

    def __str__(self) -> str:
        return (f"WER {self.test_wer:.3f} on {self.n} test words, {self.train_wer:.3f} on {self.n} training "
                f"words of the same lengths (gap {self.gap:+.3f}, standard error {self.se:.3f})")


def load_reference(folder: Path, stem: str = CHECKPOINT):
    """The checkpoint ``folder/stem.{json,safetensors}`` in ``rnncourse.experiments.g2p.G2P``."""
    json_path, weights_path = folder / f"{stem}.json", folder / f"{stem}.safetensors"
    if not json_path.is_file() or not weights_path.is_file():
        raise CheckError(f"no checkpoint {stem}.json and {stem}.safetensors")
    try:
        meta = json.loads(json_path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckError(f"{stem}.json is not JSON ({e})") from None
    kwargs = meta.get("init_kwargs") if isinstance(meta, dict) else None  # rnncourse.save_checkpoint's format
    names_ok = isinstance(kwargs, dict) and set(INIT_ARGS) <= set(kwargs) <= set(INIT_ARGS + OPTIONAL_ARGS)
    sizes_ok = names_ok and all(type(kwargs[k]) is int and 1 <= kwargs[k] <= 4096 for k in INIT_ARGS)
    probabilities_ok = names_ok and all(type(kwargs[k]) in (int, float) and 0 <= kwargs[k] < 1
                                        for k in OPTIONAL_ARGS if k in kwargs)
    if not (sizes_ok and probabilities_ok):
        raise CheckError(f"{stem}.json is not exercise 8's constructor arguments ({', '.join(INIT_ARGS)}: "
                         "integers from 1 to 4096; dropout, if given: a number from 0 to below 1)")
    kwargs = {k: kwargs[k] for k in INIT_ARGS}
    import torch  # only now: a submission without a valid checkpoint costs no import
    from safetensors.torch import load_file

    from rnncourse.experiments.g2p import G2P

    try:
        state = load_file(str(weights_path))
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same answer
        raise CheckError(f"{stem}.safetensors cannot be read ({type(e).__name__})") from None
    renamed = {}
    for key, value in state.items():
        prefix = next((p for p in RENAME if key.startswith(p)), None)
        if prefix is None:
            raise CheckError(f"{stem}.safetensors has a weight exercise 8's model does not: {key!r}")
        renamed[RENAME[prefix] + key[len(prefix):]] = value.to(torch.float32)
    with torch.device("meta"):  # no memory until the shapes are known to match the file's tensors
        model = G2P(**kwargs, cell="gru", attention="dot", dropout=0.0)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if shapes != {k: tuple(v.shape) for k, v in renamed.items()}:
        raise CheckError(f"{stem}.safetensors does not hold the weights of exercise 8's model with "
                         f"the arguments of {stem}.json")
    model.load_state_dict(renamed, strict=True, assign=True)
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise CheckError(f"{stem}.safetensors holds NaN or infinite weights")
    return model.eval()


def heldout_words() -> list[str]:
    """The grader's test words (``autograder.oracles.g2p.heldout_lexicon``: the test split, or an
    instructor's private list), sorted."""
    from autograder.oracles.g2p import heldout_lexicon

    return sorted(heldout_lexicon())


def evenly_spaced(words: Sequence[str], n: int) -> list[str]:
    """``n`` of ``words`` (all when fewer), evenly spaced in alphabetical order."""
    words = sorted(words)
    if len(words) <= n:
        return words
    return [words[k * len(words) // n] for k in range(n)]


def matched_training_words(test_words: Sequence[str], seed: int = SEED) -> list[str]:
    """For each test word a different training word of the same length (the nearest length
    when none is left), drawn with ``seed``: word length is what G2P difficulty depends on most."""
    from rnncourse.data import pronunciations as P

    by_length: dict[int, list[str]] = {}
    for w in P.train_words():
        by_length.setdefault(len(w), []).append(w)
    rng = random.Random(seed)
    for pool in by_length.values():
        rng.shuffle(pool)
    out = []
    for w in test_words:
        length = min((k for k in by_length if by_length[k]), key=lambda k: (abs(k - len(w)), k))
        out.append(by_length[length].pop())
    return out


def compare(model, n: int = N_WORDS, heldout: dict | None = None) -> Comparison:
    """The model's greedy WER on ``n`` test words and on ``n`` matched training words."""
    import torch

    from autograder.oracles.g2p import heldout_lexicon, word_error_rate
    from rnncourse.data import pronunciations as P
    from rnncourse.device import cpu_threads
    from rnncourse.experiments.g2p import predict

    heldout = heldout_lexicon() if heldout is None else heldout
    test = evenly_spaced(heldout, n)
    train = matched_training_words(test)
    with cpu_threads(1), torch.no_grad():
        test_wer = word_error_rate(predict(model, test), P.references(test, heldout))
        train_wer = word_error_rate(predict(model, train), P.references(train))
    return Comparison(test_wer, train_wer, len(test))


def review_flags(assignment: str, folder: Path, n: int = N_WORDS) -> list[str]:
    """The review flags of one submission (``[]`` for any other exercise): the comparison when
    it is implausible, or why the checkpoint could not be checked (the scoring run already
    costs such a model its points; the flag tells the instructor the check did not run)."""
    if assignment != ASSIGNMENT or not (folder / f"{CHECKPOINT}.safetensors").exists():
        return []  # another exercise, or nothing handed in: nothing to compare
    try:
        comparison = compare(load_reference(folder), n)
    except CheckError as e:
        return [f"review: public data: the train-vs-test comparison could not run: {e}"]
    if comparison.implausible:
        return [f"review: public data: {comparison}: the test error is implausibly close to the training "
                "error for a model that fits its training words this well (trained on test words?)"]
    return []
