"""Chapter 8's reference model: spelling -> pronunciation with attention.

``G2P`` reads a word's letters and writes its ARPAbet phonemes:

* **Encoder**: a letter embedding, then a one-layer *bidirectional* GRU or LSTM run on a
  ``pack_padded_sequence`` (padding never enters the recurrence, so a word's states are the
  same alone or in a padded batch). Its memory is the two directions' outputs at each letter,
  concatenated: ``(N, S, 2H)``.
* **Bridge**: the decoder starts from the two directions' *final* states concatenated
  ``(N, 2H)`` and *projected* to the decoder's size ``D`` by a linear layer and ``tanh``
  (for an LSTM, the cell state gets its own projection), so ``D`` need not equal ``2H``.
* **Decoder**: a one-layer GRU or LSTM (``cell``, the same kind as the encoder's, so the chapter
  can compare a GRU model with an LSTM model) reading the previous phoneme, with attention "on
  top" (Luong et al. 2015, as chapter 7's ``AttentionTranslator``): the decoder state ``s_t``
  attends over the memory, and ``tanh(W [s_t; context_t])`` gives the logits. Scores are
  ``attention="dot"`` (``(W_q s_t) . m_j / sqrt(2H)``, Luong's "general") or
  ``"additive"`` (``v . tanh(W_q s_t + W_k m_j)``, Bahdanau's). Without input feeding the
  decoder's recurrence never sees the context, so teacher forcing runs the whole target in one
  call of the recurrent module, and stepping one token at a time gives the same logits.

Decoding: ``greedy`` (a batch at once). The teaching package ships no beam search: it is
exercise 6's to write (and exercise 8's), and the student bundle's leak scan refuses a solution's
lines in a public module. Chapter 8's beam-width experiment runs exercise 8's reference solution
instead, read from the solution notebook at build time by the instructor's
``rnngrade.solutions`` in a cell whose code the page does not show; ``step`` and the batch-first
decoding state are what that search needs.

Metrics come from ``autograder.oracles.g2p`` (edit distance, WER, PER with several references):
one definition for the book, the exercise and the grader.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from autograder.oracles.g2p import phoneme_error_rate, word_error_rate

from ..data import pronunciations as P
from ..data.vocab import PAD, SOS
from ..device import cpu_threads
from ..train import train

MAX_LEN = 30  # phonemes and <eos>: the longest pronunciation in the dictionary has 28
RNN = {"gru": nn.GRU, "lstm": nn.LSTM}
State = tuple[torch.Tensor, ...]


class G2P(nn.Module):
    """Letters ``(N, S)`` -> phoneme logits; ``forward(src, tgt) -> (logits, loss)`` for
    ``rnncourse.train`` (teacher forcing: reads ``tgt[:, :-1]``, predicts ``tgt[:, 1:]``).

    The decoding state is a tuple of tensors with the batch first, so a beam can reorder it
    row by row: ``(memory (N,S,2H), keys (N,S,·), mask (N,S), h (N,D))``, plus ``c (N,D)``
    for an LSTM.
    """

    def __init__(self, n_letters: int = len(P.LETTER_VOCAB), n_phonemes: int = len(P.phoneme_vocab()),
                 embed_dim: int = 32, hidden_size: int = 64, decoder_size: int = 128,
                 cell: str = "gru", attention: str = "dot", dropout: float = 0.0):
        super().__init__()
        if cell not in RNN:
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        if attention not in ("dot", "additive"):
            raise ValueError(f"attention must be 'dot' or 'additive', got {attention!r}")
        self.init_kwargs = dict(n_letters=n_letters, n_phonemes=n_phonemes, embed_dim=embed_dim,
                                hidden_size=hidden_size, decoder_size=decoder_size, cell=cell,
                                attention=attention, dropout=dropout)
        self.cell, self.attention = cell, attention
        H2, D = 2 * hidden_size, decoder_size
        self.letter_embed = nn.Embedding(n_letters, embed_dim, padding_idx=PAD)
        self.encoder = RNN[cell](embed_dim, hidden_size, batch_first=True, bidirectional=True)
        self.bridge_h = nn.Linear(H2, D)
        self.bridge_c = nn.Linear(H2, D) if cell == "lstm" else None
        self.phoneme_embed = nn.Embedding(n_phonemes, embed_dim, padding_idx=PAD)
        self.decoder = RNN[cell](embed_dim, D, batch_first=True)
        self.query = nn.Linear(D, H2 if attention == "dot" else D, bias=False)
        if attention == "additive":
            self.key = nn.Linear(H2, D)
            self.v = nn.Linear(D, 1, bias=False)
        self.combine = nn.Linear(D + H2, D)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(D, n_phonemes)

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(memory (N,S,2H), final (N,2H), mask (N,S))``: outputs at each letter (0 at padding),
        the forward and backward final states concatenated (for an LSTM: ``h`` and ``c`` stacked
        on a new first axis, ``(2, N, 2H)``), and where the letters are."""
        mask = src != PAD
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.letter_embed(src), lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, hn = self.encoder(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        if self.cell == "lstm":
            h, c = hn
            return memory, torch.stack([torch.cat([h[0], h[1]], -1), torch.cat([c[0], c[1]], -1)]), mask
        return memory, torch.cat([hn[0], hn[1]], -1), mask

    def start(self, src: torch.Tensor) -> State:
        """The decoding state before the first phoneme (see the class docstring)."""
        memory, final, mask = self.encode(src)
        keys = memory if self.attention == "dot" else self.key(memory)
        if self.cell == "lstm":
            return (memory, keys, mask, torch.tanh(self.bridge_h(final[0])), torch.tanh(self.bridge_c(final[1])))
        return memory, keys, mask, torch.tanh(self.bridge_h(final))

    # -- decoder ---------------------------------------------------------------------------
    def attend(self, s: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor):
        """``(context (N,T,2H), weights (N,T,S))`` of the decoder states ``s`` (N,T,D)."""
        q = self.query(s)
        if self.attention == "dot":
            scores = q @ keys.transpose(1, 2) / math.sqrt(keys.shape[-1])
        else:
            scores = self.v(torch.tanh(q[:, :, None, :] + keys[:, None, :, :])).squeeze(-1)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        weights = scores.softmax(-1)
        return weights @ memory, weights

    def decode(self, y_in: torch.Tensor, state: State):
        """Logits ``(N, T, V)`` for the phonemes ``y_in`` (N, T), the state after them, and the
        attention weights ``(N, T, S)``."""
        memory, keys, mask, *hc = state
        rnn_state = tuple(x[None].contiguous() for x in hc)
        s, rnn_state = self.decoder(self.phoneme_embed(y_in), rnn_state if self.cell == "lstm" else rnn_state[0])
        context, weights = self.attend(s, memory, keys, mask)
        logits = self.out(self.drop(torch.tanh(self.combine(torch.cat([s, context], -1)))))
        new = tuple(x[0] for x in rnn_state) if self.cell == "lstm" else (rnn_state[0],)
        return logits, (memory, keys, mask, *new), weights

    def step(self, y_prev: torch.Tensor, state: State):
        """One phoneme: ``(logits (N, V), state)`` after reading ``y_prev`` (N,)."""
        logits, state, _ = self.decode(y_prev.reshape(-1, 1), state)
        return logits[:, 0], state

    def forward(self, src: torch.Tensor, tgt: torch.Tensor):
        logits, _, _ = self.decode(tgt[:, :-1], self.start(src))
        loss = F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=PAD)
        return logits, loss

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_len: int = MAX_LEN):
        """Greedy phoneme indices ``(N, max_len)`` and attention ``(N, max_len, S)``; what follows a
        row's first ``<eos>`` is meaningless (``Vocab.tokens`` stops there)."""
        state = self.start(src)
        y = torch.full((src.shape[0],), SOS, dtype=torch.long, device=src.device)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, state, w = self.decode(y[:, None], state)
            y = logits[:, 0].argmax(-1)
            tokens.append(y)
            weights.append(w)
        return torch.stack(tokens, 1), torch.cat(weights, 1)


# -- words in, phonemes out --------------------------------------------------------------------

def predict(model: G2P, words: Sequence[str], stress: bool = True, batch_size: int = 512,
            max_len: int = MAX_LEN) -> list[tuple[str, ...]]:
    """Greedy pronunciations of ``words``, as tuples of phoneme symbols."""
    vocab = P.phoneme_vocab(stress)
    device = next(model.parameters()).device
    out: list[tuple[str, ...]] = []
    model.eval()
    for i in range(0, len(words), batch_size):
        src, _ = P.encode_words(words[i:i + batch_size])
        tokens, _ = model.greedy(src.to(device), max_len)
        out += [tuple(vocab.tokens(t)) for t in tokens.cpu()]
    return out


def evaluate(model: G2P, words: Sequence[str], stress: bool = True, lex: P.Lexicon | None = None
             ) -> dict[str, float]:
    """``{"wer": ..., "per": ...}`` of greedy predictions against every pronunciation of each word."""
    refs = P.references(words, lex, stress)
    preds = predict(model, words, stress)
    return dict(wer=word_error_rate(preds, refs), per=phoneme_error_rate(preds, refs))


@dataclass
class Run:
    """A trained G2P model and what training it measured."""

    model: G2P
    steps: int
    seconds: float
    steps_per_second: float
    train_words: int
    validation: dict[str, float]
    loss: list[float]


def subset(words: Sequence[str], n: int | None, seed: int) -> list[str]:
    """``n`` of ``words`` drawn with ``seed`` (all of them, in order, when ``n`` is None)."""
    if n is None or n >= len(words):
        return list(words)
    g = torch.Generator().manual_seed(seed)
    return [words[i] for i in torch.randperm(len(words), generator=g)[:n].sort().values.tolist()]


def train_g2p(*, steps: int = 1000, n_train: int | None = None, n_val: int | None = 1000,
              batch_size: int = 64, lr: float = 3e-3, stress: bool = True, seed: int = 0,
              time_limit: float | None = None, device: str | torch.device = "cpu",
              **model_kwargs) -> Run:
    """Train a ``G2P`` on (``n_train`` of) the training words for ``steps`` steps and measure
    greedy WER and PER on ``n_val`` validation words. Every random choice comes from ``seed``:
    the weights, the subsets, the batches' order (``rnncourse.train`` supplies AdamW and the
    clipping). On the CPU it runs with one intra-op thread (``cpu_threads``): for a model this
    small, more threads only wait for each other on a busy machine."""
    with cpu_threads(1) if torch.device(device).type == "cpu" else contextlib.nullcontext():
        return _train_g2p(steps, n_train, n_val, batch_size, lr, stress, seed, time_limit, device,
                          model_kwargs)


def _train_g2p(steps, n_train, n_val, batch_size, lr, stress, seed, time_limit, device, model_kwargs):
    torch.manual_seed(seed)
    vocab = P.phoneme_vocab(stress)
    model = G2P(n_phonemes=len(vocab), **model_kwargs)
    words = subset(P.train_words(), n_train, seed)
    val = subset(P.validation_words(), n_val, seed + 1)
    hist = train(model, P.batches(P.pairs(words, stress=stress), batch_size, seed=seed, stress=stress),
                 steps=steps, lr=lr, device=device, time_limit=time_limit, progress=False)
    start = time.perf_counter()
    scores = evaluate(model, val, stress)
    scores["seconds"] = time.perf_counter() - start
    done = len(hist.steps)
    return Run(model.cpu(), done, hist.seconds, done / hist.seconds, len(words), scores, hist.loss)
