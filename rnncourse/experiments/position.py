"""RNN vs CNN for text: accuracy against the position of the decisive token (chapter 1).

Three small classifiers read the same sequences of ``rnncourse.data.position``:

* ``LastStateRNN``: a tanh ``nn.RNN``; the class is read from the last hidden state ``a^<T>``;
* ``MaxPoolRNN``: the same RNN; the class is read from the max over time of all hidden states;
* ``MaxPoolCNN``: a 1-D convolution over the embeddings, ReLU, max over time (Kim 2014).

All follow the course's model shape ``forward(x, targets=None) -> (logits, loss)``.
``run_position_experiment`` trains each for the same number of steps on sequences whose
signal position is drawn uniformly, then measures accuracy separately at every position.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..data.position import PositionTask, per_position_test_set, position_batches
from ..train import train


def _with_loss(logits: torch.Tensor, targets: torch.Tensor | None):
    """The course's ``(logits, loss)`` pair; the loss is mean cross-entropy, or None."""
    return logits, (None if targets is None else F.cross_entropy(logits, targets))


class LastStateRNN(nn.Module):
    """Embedding -> tanh RNN -> linear layer on the last hidden state."""

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 16, hidden_size: int = 32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.RNN(embed_dim, hidden_size, nonlinearity="tanh", batch_first=True)
        self.out = nn.Linear(hidden_size, num_classes)

    def forward(self, x, targets=None):
        _, h_n = self.rnn(self.embed(x))  # h_n (1, N, H): the state after the last token
        return _with_loss(self.out(h_n[-1]), targets)


class MaxPoolRNN(LastStateRNN):
    """Embedding -> tanh RNN -> max over time of every hidden state -> linear layer."""

    def forward(self, x, targets=None):
        states, _ = self.rnn(self.embed(x))  # (N, T, H): one state per position
        return _with_loss(self.out(states.amax(dim=1)), targets)


class MaxPoolCNN(nn.Module):
    """Embedding -> 1-D convolution (width ``kernel_size``) -> ReLU -> max over time -> linear."""

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 16, channels: int = 32,
                 kernel_size: int = 3):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.conv = nn.Conv1d(embed_dim, channels, kernel_size, padding=kernel_size // 2)
        self.out = nn.Linear(channels, num_classes)

    def forward(self, x, targets=None):
        e = self.embed(x).transpose(1, 2)  # (N, E, T): Conv1d wants channels first
        features = torch.relu(self.conv(e))  # (N, channels, T): the same filter at every position
        return _with_loss(self.out(features.amax(dim=2)), targets)


MODELS = {"last-state RNN": LastStateRNN, "max-pool RNN": MaxPoolRNN, "max-pool CNN": MaxPoolCNN}


@dataclass
class PositionResult:
    """What ``run_position_experiment`` measured."""

    task: PositionTask
    positions: list[int]
    accuracy: dict[str, list[float]] = field(default_factory=dict)  # model -> accuracy per position
    train_seconds: dict[str, float] = field(default_factory=dict)  # model -> training wall time


@torch.no_grad()
def accuracy_by_position(model: nn.Module, test_sets: list[tuple[torch.Tensor, torch.Tensor]]
                         ) -> list[float]:
    """Accuracy of ``model`` on each ``(x, y)`` of ``test_sets`` (one set per position)."""
    model.eval()
    return [(model(x)[0].argmax(dim=1) == y).float().mean().item() for x, y in test_sets]


def run_position_experiment(task: PositionTask | None = None, *, steps: int = 300,
                            batch_size: int = 64, lr: float = 1e-2, n_test: int = 200,
                            seed: int = 0, threads: int | None = 1) -> PositionResult:
    """Train the three models for ``steps`` steps each and measure accuracy at every position.

    Every model starts from the same seed and sees the same training batches and test sets.
    ``threads``: torch CPU threads while it runs (models this small run fastest on one);
    the previous setting is restored afterwards.
    """
    task = task or PositionTask()
    tests = per_position_test_set(n_test, task, seed=seed + 1)
    result = PositionResult(task=task, positions=list(range(task.seq_len)))
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        for name, cls in MODELS.items():
            torch.manual_seed(seed)
            model = cls(task.vocab_size, task.num_classes)
            start = time.perf_counter()
            train(model, position_batches(batch_size, task, seed=seed), steps=steps, lr=lr,
                  progress=False)
            result.train_seconds[name] = time.perf_counter() - start
            result.accuracy[name] = accuracy_by_position(model, tests)
    finally:
        torch.set_num_threads(previous)
    return result


@torch.no_grad()
def time_forward(lengths: tuple[int, ...] = (32, 128, 512), *, batch_size: int = 64,
                 repeats: int = 5, vocab_size: int = 100, threads: int | None = 1
                 ) -> dict[str, list[float]]:
    """Milliseconds for one forward pass of the RNN and the CNN classifier at each length.

    Both cost O(T) operations; the RNN runs them as T dependent steps, the CNN as one
    convolution over all positions at once. The minimum over ``repeats`` runs is reported; the
    two models take turns, so that a burst of load on a shared machine slows both, not one.
    """
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    models = {"RNN": LastStateRNN(vocab_size, 4).eval(), "CNN": MaxPoolCNN(vocab_size, 4).eval()}
    times: dict[str, list[float]] = {name: [] for name in models}
    try:
        for T in lengths:
            x = torch.randint(0, vocab_size, (batch_size, T))
            best = dict.fromkeys(models, float("inf"))
            for model in models.values():
                model(x)  # warm-up
            for _ in range(repeats):
                for name, model in models.items():
                    start = time.perf_counter()
                    model(x)
                    best[name] = min(best[name], time.perf_counter() - start)
            for name in models:
                times[name].append(1000 * best[name])
    finally:
        torch.set_num_threads(previous)
    return times
