"""What the GRU and LSTM oracles share: PyTorch's weight names and the params-dict copies.

A gated params dict stacks its gates along rows in PyTorch's layout::

    Wx (G·H, D) -> weight_ih      Wh (G·H, H) -> weight_hh
    bx (G·H,)   -> bias_ih        bh (G·H,)   -> bias_hh

with G = 3 for a GRU (r, z, n) and G = 4 for an LSTM (i, f, g, o).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

NAMES = {"Wx": "weight_ih", "Wh": "weight_hh", "bx": "bias_ih", "bh": "bias_hh"}


def random_gated_params(D: int, H: int, gates: int, seed: int, dtype=np.float64,
                        scale: float = 0.5) -> dict:
    """A params dict for ``gates`` stacked gates with Gaussian entries of standard deviation ``scale``."""
    rng = np.random.default_rng(seed)
    shapes = {"Wx": (gates * H, D), "Wh": (gates * H, H), "bx": (gates * H,), "bh": (gates * H,)}
    return {k: (scale * rng.standard_normal(s)).astype(dtype) for k, s in shapes.items()}


def copy_params(module: nn.Module, params: dict, suffix: str = "") -> nn.Module:
    """Copy ``params`` into ``module.weight_ih{suffix}`` etc. (in place; returns the module)."""
    with torch.no_grad():
        for key, name in NAMES.items():
            target = getattr(module, name + suffix)
            target.copy_(torch.as_tensor(np.asarray(params[key]), dtype=target.dtype))
    return module


def params_of(module: nn.Module, suffix: str = "") -> dict:
    """The params dict (float64 numpy) of a module with torch-named GRU/LSTM weights."""
    return {key: getattr(module, name + suffix).detach().cpu().double().numpy().copy()
            for key, name in NAMES.items()}


def torch_module(cls: type[nn.Module], params: dict, gates: int, **kwargs) -> nn.Module:
    """A float64 ``cls`` (``nn.GRUCell``, ``nn.LSTM`` ...) with the params' weights: a cell,
    or, with ``batch_first=True`` in ``kwargs``, a one-layer layer (weights named ``*_l0``)."""
    rows, D = np.shape(params["Wx"])
    module = cls(D, rows // gates, **kwargs).double()
    return copy_params(module, params, suffix="_l0" if issubclass(cls, nn.RNNBase) else "")


def family(name: str, gates: int, cell_cls: type[nn.Module], layer_cls: type[nn.Module]):
    """The three constructors each gated family's oracle module exports, for ``gates`` gates:
    ``random_<name>_params(D, H, seed, dtype, scale)``, ``torch_<name>_cell(params)`` (a float64
    ``cell_cls``) and ``torch_<name>(params)`` (a one-layer, batch-first float64 ``layer_cls``)."""

    def random_params(D: int, H: int, seed: int, dtype=np.float64, scale: float = 0.5) -> dict:
        return random_gated_params(D, H, gates, seed, dtype, scale)

    def cell(params: dict) -> nn.Module:
        return torch_module(cell_cls, params, gates=gates)

    def layer(params: dict) -> nn.Module:
        return torch_module(layer_cls, params, gates=gates, batch_first=True)

    random_params.__doc__ = f"A {name.upper()} params dict with Gaussian entries of standard deviation ``scale``."
    cell.__doc__ = f"A float64 ``nn.{cell_cls.__name__}`` with the params' weights."
    layer.__doc__ = f"A one-layer, batch-first float64 ``nn.{layer_cls.__name__}`` with the params' weights."
    for fn, fn_name in ((random_params, f"random_{name}_params"), (cell, f"torch_{name}_cell"), (layer, f"torch_{name}")):
        fn.__name__ = fn.__qualname__ = fn_name
    return random_params, cell, layer
