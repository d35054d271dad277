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
from ..graph import autograd_graph
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
        self.readout = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None, state=None):
        a, _ = self.rnn(self.embed(x), state)                 # (N, T, H); a<0> = 0
        logits = self.readout(a)                              # (N, T, V)
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


@torch.no_grad()
def next_token_logits(model: RNNLM, context: torch.Tensor) -> torch.Tensor:
    """Scores (N, V) of the token that follows each row of ``context (N, T)`` (read from t = 1)."""
    model.eval()
    x = torch.cat([torch.full_like(context[:, :1], model.start), context], dim=1)
    return model(x)[0][:, -1]


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


def run_synthetic_lm(source: FiniteStateSource, *, steps: tuple[int, ...] = (300, 200),
                     lrs: tuple[float, ...] = (1e-2, 1e-3), hidden_size: int = 64,
                     embed_dim: int = 16, window: int = 48, batch_size: int = 32,
                     eval_every: int = 10, eval_streams: int = 8, eval_length: int = 2000,
                     seed: int = 0, time_limit: float | None = 50.0) -> LMResult:
    """Train an ``RNNLM`` on text from ``source``; evaluate on long fresh streams.

    Training runs in phases, ``steps[i]`` AdamW steps at learning rate ``lrs[i]`` (a large
    rate to learn fast, then a small one to settle the probabilities). Evaluation streams
    begin in the source's start state and are read in one pass, so the model's perplexity
    is directly comparable with ``source.perplexity_bound()``.
    """
    with cpu_threads(1):
        torch.manual_seed(seed)
        V = len(source.vocab)
        train_stream = source.sample(200_000, seed=seed)
        eval_y = torch.as_tensor(np.stack([source.sample(eval_length, seed=10_000 + seed + i)
                                           for i in range(eval_streams)]))
        oracle_nll = -sum(source.log_prob(row) for row in eval_y.numpy()) / eval_y.numel()
        model = RNNLM(V, embed_dim=embed_dim, hidden_size=hidden_size)
        result = LMResult(bound=source.perplexity_bound(),
                          unigram=math.exp(source.unigram_entropy()),
                          sample_oracle=math.exp(oracle_nll), model=model)
        result.steps.append(0)
        result.perplexities.append(perplexity(model, eval_y))
        batches = sentence_windows(train_stream, source.index["<EOS>"], window, batch_size,
                                   model.start, seed)
        start, done = time.perf_counter(), 0
        for n, lr in zip(steps, lrs, strict=True):
            left = None if time_limit is None else time_limit - (time.perf_counter() - start)
            hist = train(model, batches, steps=n, lr=lr, clip_norm=1.0,
                         evaluate=lambda m: -perplexity(m, eval_y), eval_every=eval_every,
                         time_limit=left, progress=False)
            for step, score in hist.evals:
                result.steps.append(done + step)
                result.perplexities.append(-score)
            done += hist.steps[-1]
        result.seconds = time.perf_counter() - start
        result.final_perplexity = perplexity(model, eval_y)
    return result


@torch.no_grad()
def sample_streams(model: RNNLM, n_streams: int, length: int, *, temperature: float = 1.0,
                   top_k: int | None = None, seed: int = 0) -> torch.Tensor:
    """(n_streams, length) token ids sampled from an ``RNNLM``, all streams at once.

    Each stream starts from ``x<1> = 0``, ``a<0> = 0``; each step draws from
    ``softmax(logits / temperature)``, restricted to the ``top_k`` most likely tokens when
    ``top_k`` is given, and the drawn token is the next input.
    """
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    x = torch.full((n_streams, 1), model.start)
    state, out = None, []
    for _ in range(length):
        a, state = model.rnn(model.embed(x), state)
        logits = model.readout(a[:, -1]) / temperature        # (S, V)
        if top_k is not None:
            kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, -math.inf)
        x = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=gen)
        out.append(x)
    return torch.cat(out, dim=1)


def sample_tokens(model: RNNLM, n: int, *, temperature: float = 1.0, top_k: int | None = None,
                  seed: int = 0) -> list[int]:
    """``n`` token ids of one stream sampled from an ``RNNLM`` (see ``sample_streams``)."""
    return sample_streams(model, 1, n, temperature=temperature, top_k=top_k,
                          seed=seed)[0].tolist()


def _sup(symbol: str, t: int) -> str:
    return "$" + symbol + r"^{\langle " + str(t) + r"\rangle}$"


def draw_unrolled_lm(ax, targets: list[str], *, show_loss: bool = True, max_steps: int = 7) -> None:
    """Draw the seed's "LM unrolled" figure: inputs x<t> = y<t-1> below, softmax outputs above.

    Sequences longer than ``max_steps`` are drawn as their first steps, an ellipsis and the
    last two steps.
    """
    T = len(targets)
    if T <= max_steps:
        shown = list(range(T))
    else:
        shown = list(range(max_steps - 3)) + [None] + [T - 2, T - 1]
    box = dict(boxstyle="round,pad=0.35", fc="#e8f0fb", ec="#1f77b4")
    arrow = dict(arrowstyle="->", color="#444444", lw=1.2)
    forcing = dict(arrowstyle="->", color="#2ca02c", lw=1.0, ls="--")
    ax.set_xlim(-1.0, len(shown) - 0.4)
    ax.set_ylim(-1.55, 2.75 if show_loss else 2.2)
    ax.axis("off")
    ax.annotate("", xy=(-0.28, 0.5), xytext=(-0.95, 0.5), arrowprops=arrow)
    ax.text(-0.95, 0.66, _sup("a", 0) + "$=0$", fontsize=10)
    for col, t in enumerate(shown):
        if t is None:
            ax.text(col, 0.5, "$\\cdots$", ha="center", va="center", fontsize=16)
            ax.annotate("", xy=(col + 0.7, 0.5), xytext=(col + 0.3, 0.5), arrowprops=arrow)
            continue
        ax.text(col, 0.5, _sup("a", t + 1), ha="center", va="center", fontsize=12, bbox=box)
        x_label = _sup("x", 1) + "$=0$" if t == 0 else (
            _sup("x", t + 1) + f"\n{targets[t - 1]}")
        ax.text(col, -0.95, x_label, ha="center", va="center", fontsize=10)
        ax.annotate("", xy=(col, 0.25), xytext=(col, -0.55), arrowprops=arrow)
        ax.annotate("", xy=(col, 1.4), xytext=(col, 0.75), arrowprops=arrow)
        given = "" if t == 0 else (f" | {targets[0]}" if t == 1 else " | ...")
        ax.text(col, 1.72, _sup(r"\hat y", t + 1) + f"\nP({targets[t]}{given})",
                ha="center", va="center", fontsize=9)
        if show_loss:
            ax.text(col, 2.45, _sup(r"\mathcal{L}", t + 1), ha="center", fontsize=10,
                    color="#d62728")
        if col + 1 < len(shown):
            ax.annotate("", xy=(col + 0.72, 0.5), xytext=(col + 0.28, 0.5), arrowprops=arrow)
            if shown[col + 1] is not None:
                ax.annotate("", xy=(col + 0.8, -0.7), xytext=(col + 0.25, 1.4),
                            arrowprops=forcing)


# --- Truncated backpropagation through time (chapter 2) ---------------------------------------


def stream_chunks(stream: torch.Tensor, n_streams: int, chunk: int, start: int):
    """Cut one long token stream into ``n_streams`` parallel rows, then consecutive chunks.

    Returns a list of ``(x, y)`` pairs of shape ``(n_streams, chunk)``: chunk ``k + 1`` of row
    ``i`` continues chunk ``k`` of row ``i``, so a model may carry its state from one to the
    next. ``x`` is ``y`` shifted by one step (teacher forcing), ``start`` before each row.
    """
    stream = torch.as_tensor(stream)
    per_row = (len(stream) // n_streams // chunk) * chunk
    y = stream[: n_streams * per_row].reshape(n_streams, per_row)
    x = teacher_forcing_inputs(y, start)
    return [(x[:, k:k + chunk], y[:, k:k + chunk]) for k in range(0, per_row, chunk)]


def detach_state(state):
    """The hidden state as a constant: ``h.detach()``, or each part of an LSTM's ``(h, c)``."""
    if state is None or isinstance(state, torch.Tensor):
        return None if state is None else state.detach()
    return tuple(s.detach() for s in state)


def graph_size(tensor: torch.Tensor) -> tuple[int, int]:
    """(autograd nodes reachable from ``tensor``, bytes of the tensors they saved for backward).

    Walks ``grad_fn.next_functions``; saved tensors are read from each node's ``_saved_*``
    attributes and counted once each (by storage address), so shared weights count once.
    """
    nodes, storages = autograd_graph(tensor), {}
    for node in nodes:
        for name in dir(node):
            if name.startswith("_saved_"):
                try:
                    value = getattr(node, name)
                except RuntimeError:  # freed by an earlier backward
                    continue
                if isinstance(value, torch.Tensor):
                    storages[value.untyped_storage().data_ptr()] = value.untyped_storage().nbytes()
    return len(nodes), sum(storages.values())


@dataclass
class StatefulProfile:
    """What ``profile_stateful`` measured, one entry per chunk."""

    nodes: list[int] = field(default_factory=list)       # autograd nodes reachable from the loss
    saved_mb: list[float] = field(default_factory=list)  # MB of tensors saved for its backward
    seconds: list[float] = field(default_factory=list)   # forward + backward (not the count)
    losses: list[float] = field(default_factory=list)


def profile_stateful(model: RNNLM, chunks, *, detach: bool) -> StatefulProfile:
    """Forward and backward, chunk after chunk, carrying the state; measure the graph and time.

    With ``detach=True`` the state is cut from its history after each chunk (truncated BPTT).
    With ``detach=False`` the state keeps its history, so each backward needs
    ``retain_graph=True`` and runs through every chunk read so far. No optimizer step is
    taken (an in-place update would break the retained graph), so both runs do the same work
    per chunk and differ only in the graph.
    """
    prof, state = StatefulProfile(), None
    with cpu_threads(1):
        for x, y in chunks:
            t0 = time.perf_counter()
            a, state = model.rnn(model.embed(x), state)
            loss = F.cross_entropy(model.readout(a).flatten(0, 1), y.flatten())
            t1 = time.perf_counter()
            nodes, saved = graph_size(loss)       # before backward frees what it saved
            prof.nodes.append(nodes)
            prof.saved_mb.append(saved / 2**20)
            t2 = time.perf_counter()
            model.zero_grad(set_to_none=True)
            loss.backward(retain_graph=not detach)
            if detach:
                state = detach_state(state)
            prof.seconds.append((t1 - t0) + (time.perf_counter() - t2))
            prof.losses.append(loss.item())
    return prof


def train_stateful(model: RNNLM, chunks, *, lr: float = 3e-3, detach: bool = True,
                   clip_norm: float = 1.0) -> list[float]:
    """Truncated BPTT: one AdamW step per chunk, the state carried (and detached) between them.

    Returns each chunk's mean cross-entropy. With ``detach=False`` the second chunk's
    backward raises PyTorch's error about the freed graph: the reason ``detach`` is there.
    """
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses, state = [], None
    model.train()
    with cpu_threads(1):
        for x, y in chunks:
            a, state = model.rnn(model.embed(x), state)
            loss = F.cross_entropy(model.readout(a).flatten(0, 1), y.flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            opt.step()
            losses.append(loss.item())
            if detach:
                state = detach_state(state)
    return losses
