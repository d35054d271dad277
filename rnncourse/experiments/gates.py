"""Gated vs vanilla recurrence on the agreement task (chapters 4 and 5, exercise ex04_gru).

Chapters 4 and 5 and exercise ``ex04_gru`` reach the agreement task only through
``agreement_data``, ``agreement_stream`` and ``decode`` below, so the data source is
named in one place.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..data import agreement as _agreement
from ..device import cpu_threads
from ..graph import autograd_graph
from ..train import train

KINDS = ("rnn", "gru", "lstm")
_MODULES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
_CELLS = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}


VOCAB_SIZE: int = _agreement.VOCAB.size


def agreement_data(n: int, distance: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` (n, distance + 2) token ids and ``y`` (n,) labels: 0 singular, 1 plural subject."""
    return _agreement.make_agreement_data(n, distance, seed=seed)


def agreement_stream(batch_size: int, distance: int, seed: int):
    """Endless minibatches ``(x, y)`` at ``distance`` for ``rnncourse.train``."""
    return _agreement.agreement_batches(batch_size, distance, seed=seed)


def decode(x_row: torch.Tensor) -> str:
    """One sequence as words."""
    return _agreement.decode(x_row)[0]


class AgreementModel(nn.Module):
    """Embedding -> ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` -> linear head on the last state.

    Used by chapters 4 (GRU) and 5 (LSTM), which compare the three kinds with a keep-bias
    initialisation. Chapter 3 and exercise 3 use ``gradients.AgreementClassifier``, the same
    architecture with a padding row in the embedding, whose checkpoints students hand in: it
    stays as it is so that their saved models keep loading.

    ``forward(x, targets=None) -> (logits, loss)`` with ``x`` (N, T) token ids and
    ``logits`` (N, 2): singular or plural subject, read after the last word (where the verb would come).
    """

    def __init__(self, kind: str = "gru", vocab_size: int = VOCAB_SIZE, embed_dim: int = 16,
                 hidden_size: int = 32, keep_bias: float | None = None):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.init_kwargs = dict(kind=kind, vocab_size=vocab_size, embed_dim=embed_dim,
                                hidden_size=hidden_size, keep_bias=keep_bias)
        self.kind = kind
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = _MODULES[kind](embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2)
        if keep_bias is not None:
            set_keep_bias(self.rnn, keep_bias)

    def forward(self, x, targets=None):
        a, _ = self.rnn(self.embed(x))             # (N, T, H)
        logits = self.head(a[:, -1])               # (N, 2)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss


def set_keep_bias(rnn: nn.Module, value: float) -> None:
    """Initialise a gated layer to start as a memory: keep the old state, write little.

    GRU (torch order r, z, n): the update gate z starts at σ(value), so h' ≈ h
    (chapter 4's Γu ≈ 0). LSTM (order i, f, g, o): the forget gate starts at
    σ(value) and the input gate at σ(-value). The biases go in ``bias_ih*``;
    the same rows of ``bias_hh*`` are set to 0. Works on any module whose bias
    parameters are named like torch's.
    """
    H = rnn.hidden_size
    lstm = isinstance(rnn, nn.LSTM | nn.LSTMCell)
    rows = [(slice(0, H), -value), (slice(H, 2 * H), value)] if lstm else [(slice(H, 2 * H), value)]
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            for r, v in rows:
                if name.startswith("bias_ih"):
                    p[r] = v
                elif name.startswith("bias_hh"):
                    p[r] = 0.0


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def recurrent_parameters(kind: str, D: int, H: int) -> int:
    """Parameters of one torch layer: g (H·D + H·H + 2H), with g = 1, 3, 4 blocks (chapter 5)."""
    g = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    return g * (H * D + H * H + 2 * H)


@torch.no_grad()
def accuracy(model: nn.Module, distance: int, seed: int = 12345, n: int = 1000) -> float:
    """Accuracy on ``n`` fresh sentences at ``distance`` (a seed the training never draws)."""
    model.eval()
    x, y = agreement_data(n, distance, seed)
    return (model(x)[0].argmax(1) == y).float().mean().item()


@dataclass
class Run:
    """One trained model and what it cost."""

    kind: str
    keep_bias: float | None
    distance: int
    model: AgreementModel
    accuracy: float
    seconds: float
    steps: int
    parameters: int
    loss: list[float] = field(default_factory=list)


def train_agreement(kind: str, distance: int, *, steps: int = 200, hidden_size: int = 32,
                    batch_size: int = 64, lr: float = 1e-2, seed: int = 0,
                    time_limit: float | None = None, target: float | None = 0.99,
                    keep_bias: float | None = None) -> Run:
    """Train one ``AgreementModel`` at one distance on one CPU thread.

    Stops early once the accuracy on 500 validation sentences reaches ``target``
    (checked every 25 steps), so a run that learns is cheap and one that does not
    costs ``steps`` steps.
    """
    torch.manual_seed(seed)
    model = AgreementModel(kind, hidden_size=hidden_size, keep_bias=keep_bias)
    x_val, y_val = agreement_data(500, distance, seed + 777)

    def val_accuracy(m):
        return (m(x_val)[0].argmax(1) == y_val).float().mean().item()

    start = time.perf_counter()
    with cpu_threads(1):
        hist = train(model, agreement_stream(batch_size, distance, seed), steps=steps, lr=lr,
                     clip_norm=1.0, evaluate=val_accuracy, eval_every=25, target=target,
                     time_limit=time_limit, progress=False)
    seconds = time.perf_counter() - start
    return Run(kind, keep_bias, distance, model, accuracy(model, distance), seconds, hist.steps[-1],
               count_parameters(model), hist.loss)


def compare(configs, distances=(4, 8, 16, 32, 64), **kw) -> list[Run]:
    """``train_agreement`` for every ``(kind, keep_bias)`` config and distance (chapters 4, 5).

    ``configs`` is a list like ``[("rnn", None), ("gru", 3.0)]``.
    """
    return [train_agreement(kind, d, keep_bias=kb, **kw) for kind, kb in configs for d in distances]


def seconds_per_step(kind: str, distance: int, *, steps: int = 30, hidden_size: int = 32,
                     batch_size: int = 64, seed: int = 0) -> float:
    """Processor seconds of one training step (forward, backward, Adam) on one CPU thread.

    Processor time, not wall-clock time, so that other programs on a busy machine do
    not inflate it (chapter 5's speed comparison).
    """
    torch.manual_seed(seed)
    model = AgreementModel(kind, hidden_size=hidden_size)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = agreement_data(batch_size, distance, seed)
    with cpu_threads(1):
        for i in range(steps + 3):                 # 3 warm-up steps
            if i == 3:
                start = time.process_time()
            _, loss = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return (time.process_time() - start) / steps


def autograd_nodes(kind: str, distance: int, *, hidden_size: int = 32, batch_size: int = 64,
                   seed: int = 0) -> Counter:
    """The operations one training step records for backpropagation, by name.

    The autograd graph of one forward pass of ``AgreementModel(kind)``: each node is one
    operation that the backward pass has to run. It shows how PyTorch executes a layer on this
    machine, for instance the whole LSTM layer as a single oneDNN node (``MkldnnRnnLayerBackward0``)
    or a GRU as a dozen small operations per time step (chapter 5's speed comparison).
    """
    torch.manual_seed(seed)
    model = AgreementModel(kind, hidden_size=hidden_size)
    x, y = agreement_data(batch_size, distance, seed)
    with cpu_threads(1):
        _, loss = model(x, y)
    return Counter(type(node).__name__ for node in autograd_graph(loss))


def as_cell(model: AgreementModel) -> nn.Module:
    """The ``nn.RNNCell`` / ``GRUCell`` / ``LSTMCell`` holding the layer's weights."""
    rnn = model.rnn
    cell = _CELLS[model.kind](rnn.input_size, rnn.hidden_size)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(rnn, name + "_l0"))
    return cell


def state_gradient_norms(model: AgreementModel, distance: int, seed: int = 4321, n: int = 256,
                         wrt: str = "a") -> torch.Tensor:
    """‖∂L/∂a^{<t>}‖ (``wrt="a"``) or, for an LSTM, ‖∂L/∂c^{<t>}‖ (``wrt="c"``) for t = 1 … T.

    Unrolls the trained layer step by step with the matching ``nn.*Cell`` (same weights) and
    averages each sentence's gradient norm over ``n`` sentences. Index 1 is the state right
    after the subject, the last index the state where the verb is predicted (chapters 4 and 5).
    """
    if wrt == "c" and model.kind != "lstm":
        raise ValueError("only an LSTM has a memory cell c")
    model.eval()
    x, y = agreement_data(n, distance, seed)
    cell = as_cell(model)
    e = model.embed(x).detach()                       # (N, T, E)
    H = model.rnn.hidden_size
    a = torch.zeros(n, H)
    c = torch.zeros(n, H)
    states = []
    for t in range(x.shape[1]):
        if model.kind == "lstm":
            a, c = cell(e[:, t], (a, c))
        else:
            a = cell(e[:, t], a)
        states.append(c if wrt == "c" else a)
    loss = F.cross_entropy(model.head(a), y, reduction="sum")
    grads = torch.autograd.grad(loss, states)
    return torch.stack([g.norm(dim=1).mean() for g in grads]).detach()
