"""GRU and LSTM cell diagrams drawn with matplotlib (chapters 4 and 5).

Both figures use the course's notation (Γu, Γr, Γf, Γi, Γo, ã, c̃) with PyTorch's
names in brackets where they differ, and draw the reset gate where PyTorch applies
it: on ``W_hn a + b_hn``, after the matrix product.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from .plotting import DIAGRAM

GATE = DIAGRAM["gate"]  # sigmoid gates
CAND = DIAGRAM["candidate"]  # tanh layers
OP = DIAGRAM["op"]  # pointwise operations
LINE = DIAGRAM["line"]
STATE = DIAGRAM["state"]  # the path the state (or memory cell) travels


def _box(ax, x, y, text, color, w=0.9, h=0.55, fontsize=11):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.1",
                                fc=color, ec=LINE, lw=1.2, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _op(ax, x, y, text, r=0.22, fontsize=12):
    ax.add_patch(Circle((x, y), r, fc=OP, ec=LINE, lw=1.2, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _arrow(ax, points, color=LINE, lw=1.3, head=True):
    """A polyline through ``points`` with an arrow head on its last segment."""
    xs, ys = zip(*points, strict=True)
    if len(points) > 2:
        ax.plot(xs[:-1], ys[:-1], color=color, lw=lw, zorder=1, solid_capstyle="round")
    style = "-|>" if head else "-"
    ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle=style, mutation_scale=12,
                                 color=color, lw=lw, zorder=2, shrinkA=0, shrinkB=0))


def _frame(ax, title):
    ax.add_patch(FancyBboxPatch((0.9, 0.55), 8.3, 4.75, boxstyle="round,pad=0.02,rounding_size=0.3",
                                fc="#f7f7f7", ec="#999999", lw=1.0, zorder=0))
    ax.set_xlim(-0.4, 10.6)
    ax.set_ylim(-0.45, 5.9)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=12)


def _new_axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(8.2, 4.8))
    return ax


def _state_path(ax, top, times_x, plus_x, state):
    """The path a cell's carried state takes along the top: state<t-1> -> x (at ``times_x``)
    -> + (at ``plus_x``) -> state<t>; ``state`` is the symbol (a for the GRU, c for the LSTM)."""
    r = 0.22  # the operators' radius (_op)
    stops = [-0.2, times_x - r, times_x + r, plus_x - r, plus_x + r, 10.4]
    for start, end in zip(stops[::2], stops[1::2], strict=True):
        _arrow(ax, [(start, top), (end, top)], color=STATE, lw=2.2)
    _op(ax, times_x, top, r"$\times$")
    _op(ax, plus_x, top, "+")
    ax.text(-0.3, top + 0.3, rf"${state}^{{\langle t-1\rangle}}$", fontsize=13, ha="left")
    ax.text(10.4, top + 0.3, rf"${state}^{{\langle t\rangle}}$", fontsize=13, ha="right")


def draw_gru_cell(ax=None):
    """One GRU step: a<t-1>, x<t> -> a<t>. Returns the axes."""
    ax = _new_axes(ax)
    _frame(ax, "GRU cell (course notation; PyTorch names in brackets)")
    top, bus, row = 4.6, 1.0, 2.2
    # the state path along the top: a<t-1> -> x (1 - Γu) -> + Γu ã -> a<t>
    _state_path(ax, top, times_x=2.6, plus_x=6.8, state="a")
    # a<t-1> and x<t> feed the gates along the bus
    _arrow(ax, [(1.2, top), (1.2, bus), (7.7, bus), (7.7, row), (7.27, row)])
    ax.plot([1.2], [top], "o", color=LINE, ms=4, zorder=3)
    _arrow(ax, [(1.6, -0.35), (1.6, bus)], head=False)
    ax.plot([1.6], [bus], "o", color=LINE, ms=4, zorder=3)
    ax.text(1.6, -0.42, r"$x^{\langle t\rangle}$", fontsize=13, ha="center", va="top")
    ax.text(7.8, 1.5, r"$W_{in}x+b_{in}$", fontsize=9, ha="left")
    # update gate Γu: 1 - Γu keeps the old state, Γu lets the candidate in
    _box(ax, 2.6, row, r"$\sigma$", GATE)
    _arrow(ax, [(2.6, bus), (2.6, row - 0.28)])
    ax.text(2.7, 1.4, r"$\Gamma_u$ ($1-z$)", fontsize=9.5, ha="left")
    _op(ax, 2.6, 3.5, r"$1-$", fontsize=9)
    _arrow(ax, [(2.6, row + 0.28), (2.6, 3.28)])
    _arrow(ax, [(2.6, 3.72), (2.6, top - 0.22)])
    _arrow(ax, [(2.6, 2.9), (6.3, 2.9), (6.3, 3.6), (6.58, 3.6)])
    ax.plot([2.6], [2.9], "o", color=LINE, ms=4, zorder=3)
    _op(ax, 6.8, 3.6, r"$\times$")
    _arrow(ax, [(6.8, 3.82), (6.8, top - 0.22)])
    # reset gate Γr, applied where PyTorch applies it: on W_hn a + b_hn
    _box(ax, 3.9, row, r"$\sigma$", GATE)
    _arrow(ax, [(3.9, bus), (3.9, row - 0.28)])
    ax.text(4.0, 1.4, r"$\Gamma_r$ ($r$)", fontsize=9.5, ha="left")
    _box(ax, 5.3, 1.55, r"$W_{hn}a+b_{hn}$", CAND, w=1.45, h=0.5, fontsize=9)
    _arrow(ax, [(5.3, bus), (5.3, 1.3)])
    _op(ax, 5.3, row, r"$\times$")
    _arrow(ax, [(5.3, 1.8), (5.3, row - 0.22)])
    _arrow(ax, [(4.35, row), (5.08, row)])
    # candidate ã = tanh(W_in x + b_in + Γr * (W_hn a + b_hn))
    _box(ax, 6.8, row, r"$\tanh$", CAND)
    ax.text(7.3, 2.62, r"$\tilde a$ ($n$)", fontsize=10, ha="left")
    _arrow(ax, [(5.52, row), (6.35, row)])
    _arrow(ax, [(6.8, row + 0.28), (6.8, 3.38)])
    return ax


def draw_lstm_cell(ax=None):
    """One LSTM step: (a<t-1>, c<t-1>), x<t> -> (a<t>, c<t>). Returns the axes."""
    ax = _new_axes(ax)
    _frame(ax, "LSTM cell (gate order in PyTorch: i, f, g, o)")
    top, bus = 4.6, 1.05
    # the memory cell path: c<t-1> -> x Γf -> + -> c<t>  (the constant error carousel)
    _state_path(ax, top, times_x=3.0, plus_x=5.5, state="c")
    # a<t-1> enters at the bottom left, x<t> from below
    _arrow(ax, [(-0.2, bus), (7.5, bus)], head=False)
    ax.text(-0.3, bus + 0.2, r"$a^{\langle t-1\rangle}$", fontsize=13, ha="left")
    _arrow(ax, [(1.6, -0.35), (1.6, bus)], head=False)
    ax.plot([1.6], [bus], "o", color=LINE, ms=4, zorder=3)
    ax.text(1.6, -0.42, r"$x^{\langle t\rangle}$", fontsize=13, ha="center", va="top")
    gates = [(3.0, r"$\sigma$", GATE, r"$\Gamma_f$ keep?"), (4.5, r"$\sigma$", GATE, r"$\Gamma_i$ write?"),
             (5.5, r"$\tanh$", CAND, r"$\tilde c$"), (7.5, r"$\sigma$", GATE, r"$\Gamma_o$ expose?")]
    for x, sym, color, label in gates:
        _box(ax, x, 2.3, sym, color)
        _arrow(ax, [(x, bus), (x, 2.02)])
        ax.text(x + 0.05, 1.62, label, fontsize=9.5, ha="center")
    _arrow(ax, [(3.0, 2.58), (3.0, top - 0.22)])                       # Γf -> x on the cell path
    _op(ax, 5.5, 3.5, r"$\times$")                                      # Γi * c̃
    _arrow(ax, [(4.5, 2.58), (4.5, 3.5), (5.28, 3.5)])
    _arrow(ax, [(5.5, 2.58), (5.5, 3.28)])
    _arrow(ax, [(5.5, 3.72), (5.5, top - 0.22)])
    # output path: Γo * tanh(c<t>) -> a<t>
    _box(ax, 8.5, 3.6, r"$\tanh$", CAND)
    _arrow(ax, [(8.5, top), (8.5, 3.88)])
    ax.plot([8.5], [top], "o", color=LINE, ms=4, zorder=3)
    _op(ax, 8.5, 2.3, r"$\times$")
    _arrow(ax, [(8.5, 3.32), (8.5, 2.52)])
    _arrow(ax, [(7.95, 2.3), (8.28, 2.3)])
    _arrow(ax, [(8.5, 2.08), (8.5, bus - 0.25), (10.4, bus - 0.25)])
    ax.text(10.4, bus - 0.05, r"$a^{\langle t\rangle}$", fontsize=13, ha="right")
    return ax
