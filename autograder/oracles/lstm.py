"""``torch.nn.LSTMCell`` / ``torch.nn.LSTM`` holding the weights of an LSTM params dict (chapter 5).

The params dict uses PyTorch's layout and gate order (i, f, g, o), stacked along rows::

    Wx (4H, D) -> weight_ih      Wh (4H, H) -> weight_hh
    bx (4H,)   -> bias_ih        bh (4H,)   -> bias_hh

With ``z = x Wxᵀ + bx + a_prev Whᵀ + bh`` split into four blocks of H columns::

    Γi = σ(z_i)   Γf = σ(z_f)   c̃ = tanh(z_g)   Γo = σ(z_o)
    c_next = Γf * c_prev + Γi * c̃
    a_next = Γo * tanh(c_next)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .gated import copy_params, family, params_of, random_gated_params, torch_module  # noqa: F401 - part of this module's API

random_lstm_params, torch_lstm_cell, torch_lstm = family("lstm", 4, nn.LSTMCell, nn.LSTM)


def torch_lstm_cell_reference(xt, a_prev, c_prev, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(a_next, c_next)``, each (N, H), computed by ``nn.LSTMCell`` in float64."""
    as64 = lambda v: torch.as_tensor(v, dtype=torch.float64)  # noqa: E731
    with torch.no_grad():
        a, c = torch_lstm_cell(params)(as64(xt), (as64(a_prev), as64(c_prev)))
    return a.numpy(), c.numpy()


def torch_lstm_reference(x, a0, c0, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Hidden states ``a`` (N, T, H) and cell states ``c`` (N, T, H) computed by PyTorch.

    ``nn.LSTM`` returns only the last cell state, so the cell states of every step
    come from ``nn.LSTMCell`` with the same weights; the hidden states from ``nn.LSTM``.
    """
    as64 = lambda v: torch.as_tensor(v, dtype=torch.float64)  # noqa: E731
    with torch.no_grad():
        a_seq, _ = torch_lstm(params)(as64(x), (as64(a0)[None], as64(c0)[None]))
        cell = torch_lstm_cell(params)
        a, c, cs = as64(a0), as64(c0), []
        for t in range(np.shape(x)[1]):
            a, c = cell(as64(x)[:, t], (a, c))
            cs.append(c)
    return a_seq.numpy(), torch.stack(cs, dim=1).numpy()
