"""The autograd graph behind a tensor: what ``backward`` would walk.

Chapter 2 counts it to show a graph that grows without ``detach`` (truncated BPTT), chapter
5 counts its kinds of nodes to show how PyTorch runs an LSTM and a GRU on this machine, and
exercise 2's oracle counts it to check that a student's training loop detaches its state.
"""

from __future__ import annotations

import torch


def autograd_graph(tensor: torch.Tensor) -> list:
    """Every autograd node reachable from ``tensor.grad_fn`` through ``next_functions``, once
    each ([] for a tensor that no operation made)."""
    seen, order, stack = set(), [], [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(fn for fn, _ in node.next_functions)
    return order
