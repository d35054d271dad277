"""Chapter 3's experiments: gradient norms through time, explosion, clipping, agreement.

* ``gradient_norm_profile``: ||dL/da<t>|| for every t of a tanh RNN whose ``Waa`` has a
  chosen spectral radius, with L a function of the last state only.
* ``explode``: plain gradient descent on a linear-ish RNN with a large radius until NaN.
* ``clip_value`` / ``clip_global_norm``: the two clipping rules on a list of tensors.
* ``AgreementClassifier`` and ``agreement_accuracy_vs_distance``: a vanilla RNN (or GRU,
  LSTM: chapters 4 and 5) trained on ``rnncourse.data.agreement`` at several distances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import agreement
from ..device import cpu_threads
from ..train import train


def matrix_with_radius(H: int, radius: float, seed: int = 0) -> torch.Tensor:
    """(H, H) random Gaussian matrix rescaled so that its spectral radius is ``radius``."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(H, H, generator=g, dtype=torch.float64) / math.sqrt(H)
    rho = torch.linalg.eigvals(W).abs().max().item()
    return W * (radius / rho)


@cpu_threads(1)
def gradient_norm_profile(radius: float, *, T: int = 60, H: int = 64, N: int = 16, seed: int = 0,
                          input_scale: float = 1.0, nonlinearity: str = "tanh") -> np.ndarray:
    """||dL/da<t>|| for t = 1..T (Frobenius norm over the batch), L = sum of a<T> * w.

    The RNN has random input weights and ``Waa`` with spectral radius ``radius``; the state
    is unrolled step by step so that autograd can report the gradient at every a<t>.
    """
    g = torch.Generator().manual_seed(seed + 1)
    Waa = matrix_with_radius(H, radius, seed)
    Wax = torch.randn(H, 8, generator=g, dtype=torch.float64) * input_scale / math.sqrt(8)
    x = torch.randn(N, T, 8, generator=g, dtype=torch.float64)
    w = torch.randn(H, generator=g, dtype=torch.float64)
    act = torch.tanh if nonlinearity == "tanh" else (lambda z: z)
    a = torch.zeros(N, H, dtype=torch.float64, requires_grad=True)
    states = []
    for t in range(T):
        a = act(x[:, t] @ Wax.T + a @ Waa.T)
        a.retain_grad()
        states.append(a)
    (a * w).sum().backward()
    return np.array([s.grad.norm().item() for s in states])


@cpu_threads(1)
def explode(radius: float = 1.5, *, T: int = 50, H: int = 32, lr: float = 0.05,
            steps: int = 60, clip: str | None = None, max_norm: float = 1.0, seed: int = 0):
    """Train a *linear* RNN (identity activation: nothing saturates) on a regression target.

    Returns (losses, gradient norms) per step; without clipping both reach inf and then NaN.
    ``clip`` is ``None``, ``"value"`` (clamp every entry to [-max_norm, max_norm]),
    ``"one-sided"`` (the seed's ``if (gradient > max) gradient = max``: only the top is cut) or
    ``"norm"`` (rescale the whole gradient to norm <= max_norm).
    """
    g = torch.Generator().manual_seed(seed)
    Waa = matrix_with_radius(H, radius, seed).float().requires_grad_()
    Wax = (torch.randn(H, 4, generator=g) * 0.5).requires_grad_()
    Wya = (torch.randn(1, H, generator=g) / math.sqrt(H)).requires_grad_()
    params = [Waa, Wax, Wya]
    x = torch.randn(32, T, 4, generator=g)
    target = torch.randn(32, 1, generator=g)
    losses, norms = [], []
    for _ in range(steps):
        a = torch.zeros(32, H)
        for t in range(T):
            a = x[:, t] @ Wax.T + a @ Waa.T
        loss = F.mse_loss(a @ Wya.T, target)
        grads = torch.autograd.grad(loss, params)
        norm = torch.sqrt(sum((gr.double() ** 2).sum() for gr in grads)).item()
        losses.append(loss.item())
        norms.append(norm)
        if clip == "value":
            grads = clip_value(grads, max_norm)
        elif clip == "one-sided":
            grads = clip_value_one_sided(grads, max_norm)
        elif clip == "norm":
            grads = clip_global_norm(grads, max_norm)[0]
        with torch.no_grad():
            for p, gr in zip(params, grads, strict=True):
                p -= lr * gr
    return np.array(losses), np.array(norms)


def clip_value(grads, max_value: float) -> list[torch.Tensor]:
    """Clamp every entry into [-max_value, max_value] (the seed's ``np.clip`` pseudocode)."""
    return [gr.clamp(-max_value, max_value) for gr in grads]


def clip_value_one_sided(grads, max_value: float) -> list[torch.Tensor]:
    """The seed's pseudocode, ``if (gradient > max) gradient = max``, taken literally.

    Only entries above ``max_value`` are cut: a large *negative* entry passes unchanged.
    Chapter 3 measures what this does to training; exercise 3's tests reject it.
    """
    return [gr.clamp(max=max_value) for gr in grads]


def growth_rate(profile: np.ndarray, start: int = 20) -> float:
    """Per-step factor of a gradient-norm profile far from the loss.

    ``profile`` is ``gradient_norm_profile``'s output (index t = 1..T); the factor is fitted,
    as exp(slope of log norm), over the distances ``start``..T-1 back from the last state, after
    the first steps' transient.
    """
    back = np.asarray(profile, dtype=float)[::-1]
    k = np.arange(len(back))
    return float(np.exp(np.polyfit(k[start:], np.log(back[start:]), 1)[0]))


def clip_global_norm(grads, max_norm: float) -> tuple[list[torch.Tensor], float]:
    """Rescale all gradients together so that their joint L2 norm is at most ``max_norm``.

    Same rule as ``torch.nn.utils.clip_grad_norm_``; returns (clipped grads, original norm).
    """
    total = torch.sqrt(sum((gr.double() ** 2).sum() for gr in grads)).item()
    scale = min(1.0, max_norm / (total + 1e-6))
    return [gr * scale for gr in grads], total


def cosine(u: list[torch.Tensor], v: list[torch.Tensor]) -> float:
    """Cosine similarity of two gradients given as lists of tensors (flattened and joined)."""
    a = torch.cat([t.flatten().double() for t in u])
    b = torch.cat([t.flatten().double() for t in v])
    return (a @ b / (a.norm() * b.norm())).item()


class AgreementClassifier(nn.Module):
    """Reads an agreement sequence ``x (N, T)`` and predicts singular/plural from a<T>.

    Used by chapter 3 and exercise 3 (whose checkpoints load into it); chapters 4 and 5 use
    ``gates.AgreementModel``, the same architecture with a choice of gate initialisation.

    ``cell`` is ``"rnn"`` (tanh, chapter 3), ``"gru"`` (chapter 4) or ``"lstm"`` (chapter 5).
    ``forward(x, targets=None) -> (logits (N, 2), mean cross-entropy or None)``.
    """

    def __init__(self, vocab_size: int = agreement.VOCAB.size, embed_dim: int = 16,
                 hidden_size: int = 32, cell: str = "rnn"):
        super().__init__()
        self.init_kwargs = dict(vocab_size=vocab_size, embed_dim=embed_dim,
                                hidden_size=hidden_size, cell=cell)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None):
        a, _ = self.rnn(self.embed(x))             # (N, T, H)
        logits = self.head(a[:, -1])               # (N, 2): the decision at the last step
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correct singular/plural decisions."""
    model.eval()
    return (model(x)[0].argmax(dim=1) == y).float().mean().item()


@dataclass
class AgreementResult:
    """Accuracy on fresh data after training one model per distance."""

    distances: list[int] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def train_agreement_model(distance, *, cell: str = "rnn", steps: int = 300, batch_size: int = 64,
                          hidden_size: int = 32, lr: float = 3e-3, seed: int = 0,
                          time_limit: float | None = None) -> tuple[AgreementClassifier, float]:
    """A fresh ``AgreementClassifier`` trained on ``distance`` (an int or a (lo, hi) range).

    Same budget for every call: ``steps`` AdamW steps, global-norm clipping at 1, one CPU
    thread. Returns the model (in eval mode, on the CPU) and the training time in seconds.
    """
    with cpu_threads(1):
        torch.manual_seed(seed)
        model = AgreementClassifier(hidden_size=hidden_size, cell=cell)
        hist = train(model, agreement.agreement_batches(batch_size, distance, seed=seed),
                     steps=steps, lr=lr, clip_norm=1.0, time_limit=time_limit, progress=False)
    return model, hist.seconds


def agreement_accuracy_vs_distance(distances, *, cell: str = "rnn", steps: int = 300,
                                   batch_size: int = 64, hidden_size: int = 32, lr: float = 3e-3,
                                   n_test: int = 1000, seed: int = 0,
                                   time_limit: float | None = None) -> AgreementResult:
    """For each distance: train a fresh model with ``train_agreement_model``, test it on fresh data."""
    res = AgreementResult()
    for d in distances:
        model, seconds = train_agreement_model(d, cell=cell, steps=steps, batch_size=batch_size,
                                               hidden_size=hidden_size, lr=lr, seed=seed,
                                               time_limit=time_limit)
        x, y = agreement.make_agreement_data(n_test, d, seed=10_000 + seed)
        res.distances.append(int(d))
        res.accuracies.append(accuracy(model, x, y))
        res.seconds.append(seconds)
    return res
