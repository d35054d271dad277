"""Chapter 2's experiment: an RNN language model against the exact entropy bound of a source.

``run_synthetic_lm`` samples text from a ``FiniteStateSource`` (``rnncourse.data.
synthetic_language``), trains an ``RNNLM`` on it with teacher forcing and measures the
perplexity on fresh text during training, so that the book can plot the learning curve
against ``exp(entropy rate)``, the best any model can do. ``draw_unrolled_lm`` redraws the
seed's "LM unrolled" figure.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.synthetic_language import FiniteStateSource
from ..device import cpu_threads
from ..train import train


class RNNLM(nn.Module):
    """An RNN language model over ``vocab_size`` tokens (chapter 2).

    Inputs are token ids ``x (N, T)``; the extra id ``vocab_size`` means "no previous token"
    and is embedded as the zero vector, which is the seed's ``x<1> = 0``. With teacher forcing
    ``x<t> = y<t-1>``: see ``teacher_forcing_inputs``. ``cell`` is ``"rnn"`` (tanh), ``"gru"``
    or ``"lstm"``. ``forward(x, targets=None) -> (logits (N, T, V), mean cross-entropy or None)``.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_size: int = 64,
                 cell: str = "rnn"):
        super().__init__()
        self.init_kwargs = dict(vocab_size=vocab_size, embed_dim=embed_dim,
                                hidden_size=hidden_size, cell=cell)
        self.start = vocab_size
        self.embed = nn.Embedding(vocab_size + 1, embed_dim, padding_idx=vocab_size)
        rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None, state=None):
        a, _ = self.rnn(self.embed(x), state)                 # (N, T, H); a<0> = 0
        logits = self.head(a)                                 # (N, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        return logits, loss


def teacher_forcing_inputs(y: torch.Tensor, start: int) -> torch.Tensor:
    """Inputs for targets ``y (N, T)``: ``x<1> = start`` (the zero vector), ``x<t> = y<t-1>``."""
    return torch.cat([torch.full_like(y[:, :1], start), y[:, :-1]], dim=1)


def sentence_windows(stream: np.ndarray, eos: int, length: int, batch_size: int, start: int,
                     seed: int = 0):
    """Endless batches ``(x, y)`` of ``length`` tokens, each window beginning a sentence."""
    rng = np.random.default_rng(seed)
    starts = np.flatnonzero(stream[:-length - 1] == eos) + 1
    stream_t = torch.as_tensor(stream)
    offsets = torch.arange(length)
    while True:
        s = torch.as_tensor(rng.choice(starts, size=batch_size))
        y = stream_t[s[:, None] + offsets]
        yield teacher_forcing_inputs(y, start), y


@torch.no_grad()
def perplexity(model: RNNLM, y: torch.Tensor) -> float:
    """exp(mean negative log-likelihood per token) of the streams ``y (N, T)``, read from t = 1."""
    model.eval()
    logits, _ = model(teacher_forcing_inputs(y, model.start))
    nll = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="mean")
    return math.exp(nll.item())


@dataclass
class LMResult:
    """What ``run_synthetic_lm`` measured."""

    steps: list[int] = field(default_factory=list)          # evaluation steps
    perplexities: list[float] = field(default_factory=list)  # model perplexity at each
    final_perplexity: float = math.nan
    bound: float = math.nan            # exp(entropy rate), exact
    unigram: float = math.nan          # exp(entropy of the token frequencies), exact
    sample_oracle: float = math.nan    # the source's own perplexity on the evaluation text
    seconds: float = 0.0
    model: RNNLM | None = None


def run_synthetic_lm(source: FiniteStateSource, *, steps: int = 1500, hidden_size: int = 64,
                     embed_dim: int = 16, window: int = 48, batch_size: int = 32, lr: float = 1e-2,
                     eval_every: int = 50, eval_streams: int = 8, eval_length: int = 2000,
                     seed: int = 0, time_limit: float | None = 50.0) -> LMResult:
    """Train an ``RNNLM`` on text from ``source``; evaluate on long fresh streams.

    Evaluation streams begin in the source's start state and are read in one pass, so the
    model's perplexity is directly comparable with ``source.perplexity_bound()``.
    """
    with cpu_threads(1):
        return _run_synthetic_lm(source, steps, hidden_size, embed_dim, window, batch_size, lr,
                                 eval_every, eval_streams, eval_length, seed, time_limit)


def _run_synthetic_lm(source, steps, hidden_size, embed_dim, window, batch_size, lr, eval_every,
                      eval_streams, eval_length, seed, time_limit) -> LMResult:
    torch.manual_seed(seed)
    V = len(source.vocab)
    eos = source.index["<EOS>"]
    train_stream = source.sample(200_000, seed=seed)
    eval_y = torch.as_tensor(np.stack([source.sample(eval_length, seed=10_000 + seed + i)
                                       for i in range(eval_streams)]))
    oracle_nll = -sum(source.log_prob(row) for row in eval_y.numpy()) / eval_y.numel()
    model = RNNLM(V, embed_dim=embed_dim, hidden_size=hidden_size)
    result = LMResult(bound=source.perplexity_bound(), unigram=math.exp(source.unigram_entropy()),
                      sample_oracle=math.exp(oracle_nll), model=model)
    result.steps.append(0)
    result.perplexities.append(perplexity(model, eval_y))
    start = time.perf_counter()
    hist = train(model, sentence_windows(train_stream, eos, window, batch_size, model.start, seed),
                 steps=steps, lr=lr, clip_norm=1.0, evaluate=lambda m: -perplexity(m, eval_y),
                 eval_every=eval_every, time_limit=time_limit, progress=False)
    result.seconds = time.perf_counter() - start
    for step, score in hist.evals:
        result.steps.append(step)
        result.perplexities.append(-score)
    result.final_perplexity = perplexity(model, eval_y)
    return result


@torch.no_grad()
def sample_tokens(model: RNNLM, n: int, *, temperature: float = 1.0, top_k: int | None = None,
                  seed: int = 0) -> list[int]:
    """Sample ``n`` token ids from an ``RNNLM`` starting from ``x<1> = 0``, ``a<0> = 0``.

    Each step draws from ``softmax(logits / temperature)`` restricted to the ``top_k`` most
    likely tokens when ``top_k`` is given; the drawn token is the next input.
    """
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    x = torch.tensor([[model.start]])
    state, out = None, []
    for _ in range(n):
        a, state = model.rnn(model.embed(x), state)
        logits = model.head(a[:, -1]) / temperature           # (1, V)
        if top_k is not None:
            kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, -math.inf)
        nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=gen)
        out.append(int(nxt))
        x = nxt
    return out


def _sup(symbol: str, t: int) -> str:
    return "$" + symbol + r"^{\langle " + str(t) + r"\rangle}$"


def draw_unrolled_lm(ax, targets: list[str], *, show_loss: bool = True) -> None:
    """Draw the seed's "LM unrolled" figure: inputs x<t> = y<t-1> below, softmax outputs above."""
    T = len(targets)
    ax.set_xlim(-0.9, T - 0.1)
    ax.set_ylim(-1.45, 2.6 if show_loss else 2.1)
    ax.axis("off")
    box = dict(boxstyle="round,pad=0.3", fc="#e8f0fb", ec="#1f77b4")
    arrow = dict(arrowstyle="->", color="#444444", lw=1.2)
    ax.annotate("", xy=(-0.25, 0.5), xytext=(-0.85, 0.5), arrowprops=arrow)
    ax.text(-0.85, 0.62, r"$a^{\langle 0\rangle}=0$", fontsize=9)
    for t in range(T):
        ax.text(t, 0.5, _sup("a", t + 1), ha="center", va="center",
                fontsize=11, bbox=box)
        x_label = r"$x^{\langle 1\rangle}=0$" if t == 0 else (
            _sup("x", t + 1) + "=" + f"\n“{targets[t - 1]}”")
        ax.text(t, -0.85, x_label, ha="center", va="center", fontsize=9)
        ax.annotate("", xy=(t, 0.28), xytext=(t, -0.5), arrowprops=arrow)
        ax.annotate("", xy=(t, 1.45), xytext=(t, 0.72), arrowprops=arrow)
        ax.text(t, 1.7, _sup(r"\hat y", t + 1) + f"\nP(“{targets[t]}” | …)",
                ha="center", va="center", fontsize=8.5)
        if show_loss:
            ax.text(t, 2.35, _sup(r"\mathcal{L}", t + 1), ha="center",
                    fontsize=9, color="#d62728")
        if t + 1 < T:
            ax.annotate("", xy=(t + 0.72, 0.5), xytext=(t + 0.28, 0.5), arrowprops=arrow)
            ax.annotate("", xy=(t + 0.85, -0.6), xytext=(t + 0.2, 1.45),
                        arrowprops=dict(arrowstyle="->", color="#2ca02c", lw=0.8, ls="--"))
