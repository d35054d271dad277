"""Language-model oracles (chapter 2): ``torch.nn.RNN`` with the params dict's weights.

The model of exercise ``ex02_language_models``: targets ``y (N, T)`` of token ids, inputs
``x<1> = 0`` and ``x<t> = one_hot(y<t-1>)``, ``a<0> = 0``, per-step softmax, and the
summed cross-entropy ``L = -sum_n sum_t log yhat<t>[y<t>]``. Gradients come from autograd.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rnncourse.graph import autograd_graph

from .rnn import torch_rnn

GRAD_KEYS = {"dWax": "Wax", "dWaa": "Waa", "dba": "ba", "dWya": "Wya", "dby": "by"}


def lm_params(V: int, H: int, seed: int, scale: float = 0.5, dtype=np.float64) -> dict:
    """A params dict for a vocabulary of V tokens (so D = V): Wax (H, V) ... by (V,)."""
    rng = np.random.default_rng(seed)
    shapes = {"Wax": (H, V), "Waa": (H, H), "ba": (H,), "Wya": (V, H), "by": (V,)}
    return {k: (scale * rng.standard_normal(s)).astype(dtype) for k, s in shapes.items()}


def teacher_forced_inputs(y, V: int, shift: int = 1) -> torch.Tensor:
    """(N, T, V) float64 one-hot inputs: zeros at t = 1, one_hot(y<t-1>) after.

    ``shift=0`` gives the off-by-one mistake x<t> = one_hot(y<t>) for t > 1, for diagnoses.
    """
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    x = torch.zeros(*y.shape, V, dtype=torch.float64)
    if shift == 0:
        x[:, 1:] = F.one_hot(y[:, 1:], V).double()
    else:
        x[:, 1:] = F.one_hot(y[:, :-1], V).double()
    return x


def lm_loss_and_grads(y, params: dict, *, detach_recurrence: bool = False):
    """Summed cross-entropy of targets ``y`` and its gradients ``{"dWax": ..., ...}`` (numpy).

    ``detach_recurrence=True`` cuts the gradient path from a<t> back to a<t-1> (the mistake
    of a backward pass that forgets the recurrent ``Waa`` term), for diagnoses.
    """
    p = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)
         for k, v in params.items()}
    V = p["Wya"].shape[0]
    x = teacher_forced_inputs(y, V)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if detach_recurrence:
        a = torch.zeros(x.shape[0], p["Waa"].shape[0], dtype=torch.float64)
        states = []
        for t in range(x.shape[1]):
            a = torch.tanh(x[:, t] @ p["Wax"].T + a.detach() @ p["Waa"].T + p["ba"])
            states.append(a)
        a_all = torch.stack(states, dim=1)
    else:
        a_all = _rnn_with(torch_rnn(params), p, x)
    logits = a_all @ p["Wya"].T + p["by"]
    loss = F.cross_entropy(logits.reshape(-1, V), yt.reshape(-1), reduction="sum")
    loss.backward()
    grads = {gk: p[pk].grad.numpy().copy() for gk, pk in GRAD_KEYS.items()}
    return loss.item(), grads


def _rnn_with(rnn, p: dict, x: torch.Tensor) -> torch.Tensor:
    """Run ``rnn`` with the leaf tensors of ``p`` as its weights, so autograd reaches them."""
    weights = {"weight_ih_l0": p["Wax"], "weight_hh_l0": p["Waa"], "bias_ih_l0": p["ba"],
               "bias_hh_l0": torch.zeros_like(p["ba"])}
    return torch.func.functional_call(rnn, weights, (x,))[0]


def lm_loss(y, params: dict, shift: int = 1) -> float:
    """The summed cross-entropy alone (for finite differences); ``shift`` as in the inputs."""
    rnn = torch_rnn(params)
    V = np.asarray(params["Wya"]).shape[0]
    with torch.no_grad():
        a, _ = rnn(teacher_forced_inputs(y, V, shift))
        logits = a @ torch.as_tensor(np.asarray(params["Wya"], dtype=np.float64)).T \
            + torch.as_tensor(np.asarray(params["by"], dtype=np.float64))
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
        return F.cross_entropy(logits.reshape(-1, V), yt.reshape(-1), reduction="sum").item()


def next_token_probs(params: dict, prefix: list[int], temperature: float = 1.0) -> np.ndarray:
    """(V,) distribution of the token after ``prefix`` (ids already sampled; [] for the first).

    ``softmax(logits / temperature)`` of the RNN fed ``x<1> = 0`` then the prefix one-hot.
    """
    V = np.asarray(params["Wya"]).shape[0]
    y = np.asarray([list(prefix) + [0]])                       # the last target is a dummy
    rnn = torch_rnn(params)
    with torch.no_grad():
        a, _ = rnn(teacher_forced_inputs(y, V))
        logits = a[0, -1] @ torch.as_tensor(np.asarray(params["Wya"], dtype=np.float64)).T \
            + torch.as_tensor(np.asarray(params["by"], dtype=np.float64))
        return torch.softmax(logits / temperature, dim=-1).numpy()


def greedy_ids(params: dict, max_len: int, eos: int = 0) -> list[int]:
    """The argmax path: each step takes the most likely token, stops after ``eos``."""
    out: list[int] = []
    while len(out) < max_len:
        nxt = int(np.argmax(next_token_probs(params, out)))
        out.append(nxt)
        if nxt == eos:
            break
    return out


# --- Truncated BPTT (exercise 2, unit 6) --------------------------------------------------------


def autograd_nodes(tensor: torch.Tensor) -> int:
    """How many autograd nodes are reachable from ``tensor.grad_fn`` (0 for a constant)."""
    return len(autograd_graph(tensor))


def _constant(state):
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    return tuple(s.detach().clone() for s in state)


def truncated_bptt_reference(rnn, head, chunks, lr: float, state=None, *, carry: bool = True):
    """What truncated BPTT with plain SGD does, from its definition; the modules are left untouched.

    For each chunk ``(x, y)``: the incoming state is a **constant** (no gradient flows into it);
    the chunk's loss is the mean cross-entropy of ``head(rnn(x, state)[0])`` against ``y``; its
    gradient is ``torch.autograd.grad`` of that loss alone; the update is ``p <- p - lr * grad``.
    The chunk's final state, as a constant, starts the next chunk (``carry=False``: every chunk
    starts from ``state`` again, for diagnoses).

    Returns ``(losses, final state, {name: parameter after the updates})``, names as in
    ``rnn.named_parameters()`` prefixed ``rnn.`` / ``head.``.
    """
    import copy

    rnn, head = copy.deepcopy(rnn), copy.deepcopy(head)
    params = [p for p in rnn.parameters()] + [p for p in head.parameters()]
    losses, first, carried = [], _constant(state), _constant(state)
    for x, y in chunks:
        out, new_state = rnn(x, carried if carry else _constant(first))
        logits = head(out)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
        losses.append(loss.item())
        carried = _constant(new_state)
    named = {f"rnn.{k}": v.detach().clone() for k, v in rnn.named_parameters()}
    named.update({f"head.{k}": v.detach().clone() for k, v in head.named_parameters()})
    return losses, carried, named
