"""``torch.nn.RNN`` holding the weights of the course's params dict (chapter 1 notation).

The mapping, ``a_t = tanh(x_t @ Wax.T + a_prev @ Waa.T + ba)``::

    Wax (H, D) -> weight_ih_l0     Waa (H, H) -> weight_hh_l0
    ba  (H,)   -> bias_ih_l0 (+ bias_hh_l0 = 0)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def random_rnn_params(D: int, H: int, V: int, seed: int, dtype=np.float64) -> dict:
    """A params dict with the seed's names, Gaussian entries of scale 0.5."""
    rng = np.random.default_rng(seed)
    shapes = {"Wax": (H, D), "Waa": (H, H), "ba": (H,), "Wya": (V, H), "by": (V,)}
    return {k: (0.5 * rng.standard_normal(s)).astype(dtype) for k, s in shapes.items()}


def torch_rnn(params: dict, nonlinearity: str = "tanh") -> nn.RNN:
    """A one-layer, batch-first float64 ``nn.RNN`` with the params' Wax, Waa, ba."""
    H, D = params["Wax"].shape
    rnn = nn.RNN(D, H, nonlinearity=nonlinearity, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.as_tensor(np.asarray(params["Wax"], dtype=np.float64)))
        rnn.weight_hh_l0.copy_(torch.as_tensor(np.asarray(params["Waa"], dtype=np.float64)))
        rnn.bias_ih_l0.copy_(torch.as_tensor(np.asarray(params["ba"], dtype=np.float64)))
        rnn.bias_hh_l0.zero_()
    return rnn


def torch_rnn_reference(x: np.ndarray, a0: np.ndarray, params: dict):
    """Hidden states (N, T, H) and softmax outputs (N, T, V) computed by PyTorch."""
    rnn = torch_rnn(params)
    with torch.no_grad():
        a, _ = rnn(torch.as_tensor(x, dtype=torch.float64),
                   torch.as_tensor(a0, dtype=torch.float64)[None])
        Wya = torch.as_tensor(params["Wya"], dtype=torch.float64)
        by = torch.as_tensor(params["by"], dtype=torch.float64)
        y = torch.softmax(a @ Wya.T + by, dim=-1)
    return a.numpy(), y.numpy()
