"""``torch.nn.GRUCell`` / ``torch.nn.GRU`` holding the weights of a GRU params dict (chapter 4).

The params dict uses PyTorch's layout and gate order (r, z, n), stacked along rows::

    Wx (3H, D) -> weight_ih      Wh (3H, H) -> weight_hh
    bx (3H,)   -> bias_ih        bh (3H,)   -> bias_hh

so that, with ``Wx_r = Wx[:H]``, ``Wx_z = Wx[H:2H]``, ``Wx_n = Wx[2H:]`` and the same
slices of ``Wh``, ``bx``, ``bh``, PyTorch computes::

    r  = σ(x Wx_rᵀ + bx_r + h Wh_rᵀ + bh_r)
    z  = σ(x Wx_zᵀ + bx_z + h Wh_zᵀ + bh_z)
    n  = tanh(x Wx_nᵀ + bx_n + r * (h Wh_nᵀ + bh_n))
    h' = (1 - z) * n + z * h
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .gated import copy_params, family, params_of, random_gated_params, torch_module  # noqa: F401 - part of this module's API

random_gru_params, torch_gru_cell, torch_gru = family("gru", 3, nn.GRUCell, nn.GRU)


def torch_gru_cell_reference(xt: np.ndarray, a_prev: np.ndarray, params: dict) -> np.ndarray:
    """``a_next`` (N, H) computed by ``nn.GRUCell``, in float64."""
    with torch.no_grad():
        return torch_gru_cell(params)(torch.as_tensor(xt, dtype=torch.float64),
                                      torch.as_tensor(a_prev, dtype=torch.float64)).numpy()


def torch_gru_reference(x: np.ndarray, a0: np.ndarray, params: dict) -> np.ndarray:
    """All hidden states ``a`` (N, T, H) computed by ``nn.GRU``, in float64."""
    with torch.no_grad():
        a, _ = torch_gru(params)(torch.as_tensor(x, dtype=torch.float64),
                                 torch.as_tensor(a0, dtype=torch.float64)[None])
    return a.numpy()


def _direction_suffix(layer: int, direction: int) -> str:
    """PyTorch's suffix of layer ``layer``, direction ``direction`` (0 forward, 1 backward): _l1_reverse."""
    return f"_l{layer}" + ("_reverse" if direction else "")


def copy_stacked(deep: nn.Module, ref: nn.GRU) -> nn.Module:
    """Copy a batch-first ``nn.GRU``'s weights into ``deep.layers[l][d]`` (in place; returns ``deep``).

    ``deep.layers[l][d]`` is a one-layer module with ``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``: layer ``l``, direction ``d`` (0 forward, 1 backward), which PyTorch names
    ``weight_ih_l{l}`` and ``weight_ih_l{l}_reverse``.
    """
    directions = 2 if ref.bidirectional else 1
    for layer in range(ref.num_layers):
        for d in range(directions):
            copy_params(deep.layers[layer][d], params_of(ref, suffix=_direction_suffix(layer, d)))
    return deep


def torch_gru_layer(ref: nn.GRU, layer: int) -> nn.GRU:
    """Layer ``layer`` of ``ref`` alone: a one-layer ``nn.GRU`` (same directions, dtype, batch_first)."""
    directions = 2 if ref.bidirectional else 1
    size = ref.input_size if layer == 0 else directions * ref.hidden_size
    one = nn.GRU(size, ref.hidden_size, batch_first=ref.batch_first,
                 bidirectional=ref.bidirectional).to(ref.weight_ih_l0.dtype)
    for d in range(directions):
        copy_params(one, params_of(ref, suffix=_direction_suffix(layer, d)), suffix=_direction_suffix(0, d))
    return one
