"""The translators that chapters 6 and 7 train while the book builds (dates -> ISO).

Two small models built from PyTorch modules, trained for a fixed number of steps so the
book's figures are the same on every build:

* ``PlainTranslator`` (chapter 6): a GRU encoder whose last state is the *only* thing
  the GRU decoder sees of the input, the fixed-size context.
* ``AttentionTranslator`` (chapter 7): the same, plus one-head ``nn.MultiheadAttention``
  from each decoder state over all encoder states (Luong et al. 2015's "attention on
  top" form), so the decoder can look back at any input character.

These are the book's own models, not the exercises' (which build a Bahdanau decoder
step by step and write their own attention, loss and search).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data import dates
from ..train import train
from .store import shared_run

MAX_OUT = dates.TARGET_LEN + 1  # ten characters and <eos>


class PlainTranslator(nn.Module):
    """Encoder-decoder without attention (Cho et al. 2014): src (N, S) -> logits (N, T, V).

    The encoder's last state ``c`` (N, H) is the decoder's first state and is also fed, with
    the previous token, to every decoder step: still one fixed-size vector for the whole input.
    """

    def __init__(self, src_vocab_size: int = len(dates.SOURCE_VOCAB),
                 tgt_vocab_size: int = len(dates.TARGET_VOCAB), embed_dim: int = 32,
                 hidden_size: int = 64):
        super().__init__()
        self.init_kwargs = dict(src_vocab_size=src_vocab_size, tgt_vocab_size=tgt_vocab_size,
                                embed_dim=embed_dim, hidden_size=hidden_size)
        self.src_embed = nn.Embedding(src_vocab_size, embed_dim, padding_idx=dates.PAD)
        self.encoder = nn.GRU(embed_dim, hidden_size, batch_first=True)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, embed_dim)
        self.decoder = nn.GRU(embed_dim + hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, tgt_vocab_size)

    def encode(self, src: torch.Tensor):
        """Encoder states (N, S, H), zero at padding; context c (N, H); mask (N, S)."""
        mask = src != dates.PAD
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.src_embed(src), lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, h = self.encoder(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        return out, h[0], mask

    def decode(self, y_in: torch.Tensor, h: torch.Tensor, memory, c, mask):
        """Logits (N, T, V) for the tokens y_in (N, T) read from state h (1, N, H); new state; attention."""
        emb = self.tgt_embed(y_in)
        s, h = self.decoder(torch.cat([emb, c[:, None].expand(-1, emb.shape[1], -1)], -1), h)
        return self.out(s), h, None

    def forward(self, src: torch.Tensor, tgt: torch.Tensor):
        """Teacher forcing: read ``tgt[:, :-1]`` (starting at <sos>), predict ``tgt[:, 1:]``."""
        memory, c, mask = self.encode(src)
        logits, _, _ = self.decode(tgt[:, :-1], c[None], memory, c, mask)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=dates.PAD)
        return logits, loss

    @torch.no_grad()
    def generate(self, src: torch.Tensor, max_len: int = MAX_OUT):
        """Greedy tokens (N, max_len) and attention weights (N, max_len, S) or None."""
        memory, c, mask = self.encode(src)
        h = c[None]
        y = torch.full((src.shape[0], 1), dates.SOS, dtype=torch.long, device=src.device)
        tokens, weights = [], []
        while len(tokens) < max_len:
            logits, h, w = self.decode(y, h, memory, c, mask)
            y = logits[:, -1].argmax(-1, keepdim=True)
            tokens.append(y)
            weights.append(w)
        attn = torch.cat(weights, 1) if weights[0] is not None else None
        return torch.cat(tokens, 1), attn


class AttentionTranslator(PlainTranslator):
    """The plain translator plus one attention head from decoder states to encoder states."""

    def __init__(self, src_vocab_size: int = len(dates.SOURCE_VOCAB),
                 tgt_vocab_size: int = len(dates.TARGET_VOCAB), embed_dim: int = 32,
                 hidden_size: int = 64):
        super().__init__(src_vocab_size, tgt_vocab_size, embed_dim, hidden_size)
        self.attn = nn.MultiheadAttention(hidden_size, num_heads=1, batch_first=True)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)

    def decode(self, y_in, h, memory, c, mask):
        emb = self.tgt_embed(y_in)
        s, h = self.decoder(torch.cat([emb, c[:, None].expand(-1, emb.shape[1], -1)], -1), h)
        context, w = self.attn(s, memory, memory, key_padding_mask=~mask)   # (N, T, H), (N, T, S)
        return self.out(torch.tanh(self.combine(torch.cat([s, context], -1)))), h, w


def translate(model: PlainTranslator, texts: Sequence[str], vocab: dates.Vocab = dates.TARGET_VOCAB,
              max_len: int = MAX_OUT) -> list[str]:
    """Greedy translations of ``texts`` as strings."""
    device = next(model.parameters()).device
    src = dates.encode_batch(list(texts), dates.SOURCE_VOCAB).to(device)
    tokens, _ = model.eval().generate(src, max_len)
    return [vocab.decode(t) for t in tokens.cpu()]


def exact_matches(model: PlainTranslator, pairs: Sequence[tuple[str, str]],
                  vocab: dates.Vocab = dates.TARGET_VOCAB, batch_size: int = 500) -> list[bool]:
    """For each pair, whether the greedy translation equals the target exactly."""
    hits = []
    max_len = max(len(t) for _, t in pairs) + 1
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        out = translate(model, [s for s, _ in chunk], vocab, max_len)
        hits += [p == t for p, (_, t) in zip(out, chunk, strict=True)]
    return hits


@dataclass
class Run:
    """A trained translator and what training it measured."""

    model: PlainTranslator
    seconds: float
    steps: int
    val_exact_match: float


def date_data(max_extra: int = 0, seed: int = 0):
    """Public ``(train, val)`` pairs; with ``max_extra`` > 0, each date sits inside filler words."""
    train_pairs, val_pairs = dates.train_val_split()
    if max_extra:
        train_pairs = dates.in_sentences(train_pairs, max_extra, seed=seed + 1)
        val_pairs = dates.in_sentences(val_pairs, max_extra, seed=seed + 2)
    return train_pairs, val_pairs


def train_translator(kind: str = "plain", steps: int = 600, hidden_size: int = 64,
                     batch_size: int = 64, lr: float = 3e-3, seed: int = 0, max_extra: int = 0) -> Run:
    """Train ``kind`` ("plain" or "attention") for a fixed number of steps on the public split
    (dates inside up to ``max_extra`` characters of filler words when ``max_extra`` > 0)."""
    torch.manual_seed(seed)
    cls = {"plain": PlainTranslator, "attention": AttentionTranslator}[kind]
    model = cls(hidden_size=hidden_size)
    train_pairs, val_pairs = date_data(max_extra, seed)
    start = time.perf_counter()
    train(model, dates.batches(train_pairs, batch_size, seed=seed), steps=steps, lr=lr,
          progress=False)
    seconds = time.perf_counter() - start
    acc = sum(exact_matches(model, val_pairs)) / len(val_pairs)
    return Run(model=model, seconds=seconds, steps=steps, val_exact_match=acc)


def accuracy_by_length(model: PlainTranslator, pairs: Sequence[tuple[str, str]],
                       edges: Sequence[int] = (8, 12, 16, 20, 24, 28, 32, 40),
                       vocab: dates.Vocab = dates.TARGET_VOCAB):
    """Exact match per input-length bin [edges[i], edges[i+1]): (bin centres, accuracies, counts)."""
    hits = exact_matches(model, pairs, vocab)
    centres, accs, counts = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = [h for h, (s, _) in zip(hits, pairs, strict=True) if lo <= len(s) < hi]
        if sel:
            centres.append((lo + hi - 1) / 2)
            accs.append(sum(sel) / len(sel))
            counts.append(len(sel))
    return centres, accs, counts


@torch.no_grad()
def after_first_mistake(model: PlainTranslator, pairs: Sequence[tuple[str, str]],
                        vocab: dates.Vocab = dates.TARGET_VOCAB) -> dict:
    """Exposure bias, measured: accuracy on the characters that follow the first mistake.

    Free running and teacher forcing produce the same characters up to the first mistake
    (both read the true prefix until then). After it, teacher forcing still reads the true
    prefix while free running reads its own wrong one. Returns the character accuracy of both
    after the first mistake (position by position), the number of such characters, the share of
    outputs with a mistake, and the share of those whose free-running length differs from the
    target's (an inserted or dropped character, which misaligns every later position).
    """
    src, tgt = dates.encode_pairs(pairs, vocab)
    logits, _ = model.eval()(src, tgt)
    labels = tgt[:, 1:]
    real = labels != dates.PAD
    forced = logits.argmax(-1)
    free, _ = model.generate(src, labels.shape[1])
    wrong = (free != labels) & real
    has_mistake = wrong.any(1)
    first = torch.where(has_mistake, wrong.float().argmax(1), torch.full_like(has_mistake, labels.shape[1],
                                                                             dtype=torch.long))
    after = (torch.arange(labels.shape[1])[None, :] > first[:, None]) & real
    n = int(after.sum())
    # Characters are compared position by position: a free-running output that drops or inserts a
    # character is misaligned with the target from there on. Count the outputs whose length differs.
    def end(tokens):
        is_eos = tokens == dates.EOS
        return torch.where(is_eos.any(1), is_eos.float().argmax(1), torch.full_like(first, tokens.shape[1]))
    shifted = (end(free) != end(labels)) & has_mistake
    return dict(forced=float(((forced == labels) & after).sum()) / max(1, n),
                free=float(((free == labels) & after).sum()) / max(1, n),
                characters=n, outputs_with_mistake=float(has_mistake.float().mean()),
                mistakes_with_wrong_length=float(shifted.sum()) / max(1, int(has_mistake.sum())))


# Chapter 6's bottleneck experiment, redrawn with attention in chapter 7: lists of one to three
# dates, so the information to carry grows with the input. Sizes chosen so that each training
# run takes well under 60 s on two CPU cores.
LIST_EXPERIMENT = dict(steps=800, hidden_size=64, batch_size=64, lr=3e-3, max_dates=3, seed=0)
# The attention model costs more per step and needs fewer: chapter 7 gives it 500.
LIST_EXPERIMENT_ATTENTION = {**LIST_EXPERIMENT, "steps": 500}


@dataclass
class ListRun:
    """A translator trained on date lists, and its exact match on unseen lists."""

    model: PlainTranslator
    seconds: float
    test_pairs: list
    by_length: tuple        # (bin centres, exact match, counts) by input length
    by_dates: dict          # number of dates -> exact match of the whole list
    by_position: dict       # number of dates -> exact match of each date of the list, in order


@shared_run  # chapters 6 and 7 both show the plain run: trained once per book build
def train_list_translator(kind: str, steps: int, hidden_size: int, batch_size: int, lr: float,
                          max_dates: int, seed: int = 0, n_train: int = 20_000, n_test: int = 1_500
                          ) -> ListRun:
    """Train ``kind`` ("plain" or "attention") on lists of 1..max_dates dates; measure it.

    In a book build, a second call with the same arguments returns the first call's run
    (``store.shared_run``): its model, its measurements and its training seconds."""
    torch.manual_seed(seed)
    vocab = dates.LIST_TARGET_VOCAB
    cls = {"plain": PlainTranslator, "attention": AttentionTranslator}[kind]
    model = cls(tgt_vocab_size=len(vocab), hidden_size=hidden_size)
    train_pairs = dates.date_lists(n_train, max_dates, seed=seed)
    test_pairs = dates.date_lists(n_test, max_dates, seed=seed + 10_000)
    start = time.perf_counter()
    train(model, dates.batches(train_pairs, batch_size, seed=seed, target_vocab=vocab), steps=steps,
          lr=lr, progress=False)
    seconds = time.perf_counter() - start
    outputs = translate_all(model, test_pairs, vocab)
    hits = [out == t for out, (_, t) in zip(outputs, test_pairs, strict=True)]
    by_dates = {}
    for k in range(1, max_dates + 1):
        sel = [h for h, (_, t) in zip(hits, test_pairs, strict=True) if len(t.split()) == k]
        by_dates[k] = sum(sel) / max(1, len(sel))
    by_position = dates_right_by_position(outputs, [t for _, t in test_pairs], max_dates)
    edges = (0, 15, 25, 35, 45, 60, 200)
    centres, accs, counts = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = [(h, len(s)) for h, (s, _) in zip(hits, test_pairs, strict=True) if lo <= len(s) < hi]
        if len(sel) >= 20:
            centres.append(sum(n for _, n in sel) / len(sel))
            accs.append(sum(h for h, _ in sel) / len(sel))
            counts.append(len(sel))
    return ListRun(model, seconds, test_pairs, (centres, accs, counts), by_dates, by_position)


def translate_all(model: PlainTranslator, pairs: Sequence[tuple[str, str]],
                  vocab: dates.Vocab = dates.TARGET_VOCAB, batch_size: int = 500) -> list[str]:
    """Greedy translations of the sources of ``pairs``, long enough for their longest target."""
    max_len = max(len(t) for _, t in pairs) + 1
    out: list[str] = []
    for i in range(0, len(pairs), batch_size):
        out += translate(model, [s for s, _ in pairs[i:i + batch_size]], vocab, max_len)
    return out


def dates_right_by_position(outputs: Sequence[str], targets: Sequence[str], max_dates: int) -> dict:
    """For lists of k dates: the share of lists whose i-th output date equals the i-th target date.

    ``{k: [share for date 1, ..., share for date k]}``. Dates are compared by position in the
    list (the output split at spaces), so a list whose first date is wrong can still have its
    second one right: this separates "each date is harder" from "every date must be right".
    """
    result = {}
    for k in range(1, max_dates + 1):
        rows = [(o.split(), t.split()) for o, t in zip(outputs, targets, strict=True)
                if len(t.split()) == k]
        result[k] = [sum(len(o) > i and o[i] == t[i] for o, t in rows) / max(1, len(rows))
                     for i in range(k)]
    return result


@torch.no_grad()
def attention_map(model: AttentionTranslator, text: str, vocab: dates.Vocab = dates.TARGET_VOCAB,
                  max_len: int = MAX_OUT):
    """The greedy translation of ``text`` and its attention weights (max_len, len(text))."""
    src = dates.encode_batch([text], dates.SOURCE_VOCAB)
    tokens, weights = model.eval().generate(src, max_len)
    return vocab.decode(tokens[0]), weights[0]


def year_span(text: str, year: str) -> tuple[int, int] | None:
    """Where the four year digits are in ``text`` (start, end), or None (two-digit years)."""
    i = text.rfind(year)
    return None if i < 0 else (i, i + 4)


@torch.no_grad()
def year_attention(model: AttentionTranslator, pairs: Sequence[tuple[str, str]],
                   vocab: dates.Vocab = dates.TARGET_VOCAB, slack: int = 1):
    """Mean attention mass that the four year digits of the output put on the year in the input
    (the four digits and ``slack`` characters after them), over the pairs that spell the year out.
    Returns (mean mass, number of pairs used)."""
    masses = []
    for text, target in pairs:
        span = year_span(text, target[:4])
        if span is None:
            continue
        _, w = attention_map(model, text, vocab)
        masses.append(w[:4, span[0]:span[1] + slack].sum(-1).mean().item())
    return sum(masses) / len(masses), len(masses)
