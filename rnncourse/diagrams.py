"""Diagrams of recurrent networks drawn with matplotlib (chapter 1 explains them).

Each ``draw_*`` function draws on ``ax`` (a new figure when ``ax`` is None) and returns the
axes. Boxes: green for inputs, blue for hidden states, red for outputs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from .plotting import DIAGRAM

INPUT, HIDDEN, OUTPUT, ENCODER = DIAGRAM["input"], DIAGRAM["hidden"], DIAGRAM["output"], DIAGRAM["encoder"]
EDGE = DIAGRAM["line"]
W, H = 0.9, 0.6  # box width and height in data units
DX, DY = 1.7, 1.5  # distance between columns and between rows


def _axes(ax, size):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _box(ax, x, y, text, color, w=W, h=H, fontsize=11):
    """A rounded box centred at (x, y) with ``text`` in it."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                fc=color, ec=EDGE, lw=1.1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, label=None, side="left", color=EDGE, ls="-", offset=0.08,
           fontsize=9):
    """An arrow from ``start`` to ``end`` with an optional label beside its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, lw=1.1,
                                 color=color, ls=ls, shrinkA=0, shrinkB=0))
    if label:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        if start[0] == end[0]:  # vertical arrow: label to its left or right
            dx = -offset if side == "left" else offset
            ax.text(mx + dx, my, label, ha="right" if side == "left" else "left", va="center",
                    fontsize=fontsize, color=color)
        else:  # horizontal arrow: label above
            ax.text(mx, my + offset, label, ha="center", va="bottom", fontsize=fontsize, color=color)


def _up(ax, x, y0, y1, label=None, side="left", **kw):
    """Vertical arrow from the box at (x, y0) to the box at (x, y1)."""
    _arrow(ax, (x, y0 + H / 2), (x, y1 - H / 2), label, side, **kw)


def _right(ax, x0, x1, y, label=None, **kw):
    """Horizontal arrow from the box at (x0, y) to the box at (x1, y)."""
    _arrow(ax, (x0 + W / 2, y), (x1 - W / 2, y), label, **kw)


def draw_unrolled_rnn(ax=None, T: int = 4, every_output: bool = False):
    """The typical RNN folded (left) and unrolled over ``T`` steps (right).

    ``net_t = U x_t + W h_{t-1}``, ``h_t = f(net_t)``, ``y = g(V h_T)``: the same U, W, V at
    every step. With ``every_output`` an output is drawn at every step, not only after the last.
    """
    ax = _axes(ax, (2.2 + 1.3 * T, 3.4))
    # folded network with its self-loop
    _box(ax, 0, 0, "$x_t$", INPUT)
    _box(ax, 0, DY, "$h_t$", HIDDEN)
    _box(ax, 0, 2 * DY, "$y$", OUTPUT)
    _up(ax, 0, 0, DY, "$U$")
    _up(ax, 0, DY, 2 * DY, "$V$")
    loop = Path([(W / 2, DY), (W / 2 + 0.4, DY), (W / 2 + 0.4, DY - 0.62), (0.25, DY - 0.62),
                 (0.25, DY - H / 2)])
    ax.add_patch(FancyArrowPatch(path=loop, arrowstyle="-|>", mutation_scale=11, lw=1.1,
                                 color=EDGE))
    ax.text(W / 2 + 0.48, DY - 0.31, "$W$", ha="left", va="center", fontsize=9)
    ax.text(2.25, DY + 0.05, "unroll", ha="center", va="bottom", fontsize=9, color="#666666")
    ax.add_patch(FancyArrowPatch((1.75, DY - 0.05), (2.75, DY - 0.05), arrowstyle="-|>",
                                 mutation_scale=14, lw=2, color="#999999"))
    # unrolled network
    x0 = 4.9
    ax.text(x0 - DX + W / 2 - 0.1, DY, "$h_0$", ha="right", va="center", fontsize=11)
    _arrow(ax, (x0 - DX + W / 2, DY), (x0 - W / 2, DY), "$W$")
    for t in range(1, T + 1):
        cx = x0 + (t - 1) * DX
        name = str(t) if t < T or T < 4 else "T"
        if T >= 4 and t == T - 1:  # the columns we skip
            ax.text(cx, DY, "…", ha="center", va="center", fontsize=16)
            ax.text(cx, 0, "…", ha="center", va="center", fontsize=16)
            _right(ax, cx - DX, cx, DY, "$W$")
            continue
        _box(ax, cx, 0, f"$x_{{{name}}}$", INPUT)
        _box(ax, cx, DY, f"$h_{{{name}}}$", HIDDEN)
        _up(ax, cx, 0, DY, "$U$")
        if t > 1:
            _right(ax, cx - DX, cx, DY, "$W$")
        if every_output or t == T:
            label = "$y$" if t == T and not every_output else f"$y_{{{name}}}$"
            _box(ax, cx, 2 * DY, label, OUTPUT)
            _up(ax, cx, DY, 2 * DY, "$V$")
    ax.set_xlim(-W, x0 + (T - 1) * DX + W)
    ax.set_ylim(-H, 2 * DY + H)
    return ax


def draw_forward_propagation(ax=None, steps: int = 3):
    """Forward propagation in the a<t> notation: ``steps`` cells, an ellipsis, the last cell.

    Each cell computes ``a<t> = g1(Waa a<t-1> + Wax x<t> + ba)`` and
    ``ŷ<t> = g2(Wya a<t> + by)``.
    """
    ax = _axes(ax, (1.9 * (steps + 2), 3.6))
    names = [str(t) for t in range(1, steps + 1)] + [None, "T_x"]
    x0 = 1.6
    ax.text(x0 - DX + W / 2 - 0.05, DY, r"$a^{\langle 0\rangle}$", ha="right", va="center",
            fontsize=12)
    prev = x0 - DX
    for i, name in enumerate(names):
        cx = x0 + i * DX
        if name is None:
            ax.text(cx, DY, "…", ha="center", va="center", fontsize=16)
            _arrow(ax, (prev + W / 2, DY), (cx - 0.25, DY), r"$W_{aa}$")
            prev = cx
            continue
        start = prev + W / 2 if i > 0 else x0 - DX + W / 2
        end = cx - W / 2
        if names[i - 1] is None:
            start = prev + 0.25
        _arrow(ax, (start, DY), (end, DY), r"$W_{aa}$",)
        _box(ax, cx, 0, rf"$x^{{\langle {name}\rangle}}$", INPUT, fontsize=12)
        _box(ax, cx, DY, rf"$a^{{\langle {name}\rangle}}$" + "\n" + r"$g_1$", HIDDEN, h=0.8,
             fontsize=11)
        _box(ax, cx, 2 * DY, rf"$\hat y^{{\langle {name}\rangle}}$", OUTPUT, fontsize=12)
        _arrow(ax, (cx, H / 2), (cx, DY - 0.4), r"$W_{ax}$")
        _arrow(ax, (cx, DY + 0.4), (cx, 2 * DY - H / 2), r"$W_{ya},\ g_2$")
        prev = cx
    ax.text(x0 + (len(names) - 1) * DX / 2 - DX / 2, -0.95,
            r"$a^{\langle t\rangle} = g_1(W_{aa}\,a^{\langle t-1\rangle} + W_{ax}\,x^{\langle t\rangle} + b_a)"
            r"\qquad \hat y^{\langle t\rangle} = g_2(W_{ya}\,a^{\langle t\rangle} + b_y)$",
            ha="center", va="center", fontsize=11)
    ax.set_xlim(x0 - DX - 0.6, x0 + (len(names) - 1) * DX + W)
    ax.set_ylim(-1.3, 2 * DY + H)
    return ax


def _chain(ax, x0, n, y_state=DY, inputs=(), outputs=(), color=HIDDEN, prefix="a",
           label_offset=1, feedback=False):
    """``n`` hidden boxes from column x0; inputs/outputs: step indices that have them."""
    for i in range(n):
        cx = x0 + i * DX
        _box(ax, cx, y_state, "", color)
        if i > 0:
            _right(ax, cx - DX, cx, y_state)
        if i in inputs:
            _box(ax, cx, 0, f"$x_{{{i + label_offset}}}$", INPUT)
            _up(ax, cx, 0, y_state)
        if i in outputs:
            k = sorted(outputs).index(i) + 1
            _box(ax, cx, 2 * DY, f"$y_{{{k}}}$", OUTPUT)
            _up(ax, cx, y_state, 2 * DY)
            if feedback and i + 1 < n:  # generation: the output is the next step's input
                ax.add_patch(FancyArrowPatch((cx + W / 2, 2 * DY - 0.1), (cx + DX - 0.15, DY + H / 2),
                                             arrowstyle="-|>", mutation_scale=10, lw=1, ls="--",
                                             color="#888888", connectionstyle="arc3,rad=-0.2"))


def draw_task_shapes(axes=None):
    """The four task shapes: many-to-one, many-to-many, one-to-many, encoder-decoder.

    ``axes``: four axes to draw on; when None, a new figure with the three one-chain shapes in
    the top row and the (wider) encoder-decoder below. Returns the four axes.
    """
    if axes is None:
        fig = plt.figure(figsize=(9, 5.2))
        grid = fig.add_gridspec(2, 6, height_ratios=[1, 1], hspace=0.25, wspace=0.3)
        axes = [fig.add_subplot(grid[0, 0:2]), fig.add_subplot(grid[0, 2:4]),
                fig.add_subplot(grid[0, 4:6]), fig.add_subplot(grid[1, 1:5])]
    axes = list(getattr(axes, "flat", axes))
    n = 4
    specs = [
        ("many-to-one", "classify a sentence or a word", dict(inputs=range(n), outputs={n - 1})),
        ("many-to-many (aligned)", "tag every token", dict(inputs=range(n), outputs=set(range(n)))),
        ("one-to-many", "generate text from one input",
         dict(inputs={0}, outputs=set(range(n)), feedback=True)),
    ]
    for ax, (title, example, kw) in zip(axes[:3], specs, strict=True):
        _axes(ax, None)
        _chain(ax, 0, n, **kw)
        _titles(ax, title, example, (n - 1) * DX / 2)
        ax.set_xlim(-W, (n - 1) * DX + W)
        ax.set_ylim(-H - 0.1, 2 * DY + 1.65)
    ax = _axes(axes[3], None)
    n_in, n_out = 4, 3
    _chain(ax, 0, n_in, inputs=range(n_in), color=ENCODER)
    _chain(ax, n_in * DX, n_out, outputs=set(range(n_out)), feedback=True)
    _right(ax, (n_in - 1) * DX, n_in * DX, DY, "$c$")
    ax.text((n_in - 1) * DX / 2, -0.55, "encoder: reads", ha="center", va="top",
            fontsize=9)
    ax.text((n_in + (n_out - 1) / 2) * DX, -0.55, "decoder: writes", ha="center",
            va="top", fontsize=9)
    _titles(ax, "encoder–decoder (sequence to sequence)",
            "translate: input and output lengths differ", (n_in + n_out - 1) * DX / 2)
    ax.set_xlim(-W, (n_in + n_out - 1) * DX + W)
    ax.set_ylim(-1.0, 2 * DY + 1.65)
    return axes


def _titles(ax, title, example, x):
    """A panel's title and, under it in italics, an example task."""
    ax.text(x, 2 * DY + 1.6, title, ha="center", va="top", fontsize=11)
    ax.text(x, 2 * DY + 1.12, example, ha="center", va="top", fontsize=9, color="#555555",
            style="italic")


def draw_bptt_flow(ax=None, steps: int = 4, grad_color: str = "#d62728"):
    """Backpropagation through time (chapter 2): forward arrows in grey, gradients in red.

    Each column t has x<t>, a<t>, ŷ<t> and its loss L<t>. The red dashed arrows carry the
    gradient backwards: from L<t> down to a<t> through W_ya, and from a<t+1> back to a<t>
    through tanh' and W_aa. Each a<t> adds the two; every step adds its share to the shared
    parameters' gradients.
    """
    ax = _axes(ax, (2.2 * (steps + 1), 4.6))
    grey = "#9a9a9a"
    ys = {"x": 0, "a": DY, "y": 2 * DY, "L": 3 * DY}
    for i in range(steps):
        cx, t = 1.2 + i * DX * 1.25, i + 1
        label = "T" if i == steps - 1 else str(t)
        _box(ax, cx, ys["x"], rf"$x^{{\langle {label}\rangle}}$", INPUT)
        _box(ax, cx, ys["a"], rf"$a^{{\langle {label}\rangle}}$", HIDDEN)
        _box(ax, cx, ys["y"], rf"$\hat y^{{\langle {label}\rangle}}$", OUTPUT)
        ax.text(cx, ys["L"], rf"$\mathcal{{L}}^{{\langle {label}\rangle}}$", ha="center",
                va="center", fontsize=12, color=grad_color)
        _up(ax, cx - 0.12, ys["x"], ys["a"], color=grey)
        _up(ax, cx - 0.12, ys["a"], ys["y"], color=grey)
        _arrow(ax, (cx - 0.12, ys["y"] + H / 2), (cx - 0.12, ys["L"] - 0.25), color=grey)
        # gradient from the step's own loss, down through the softmax and W_ya
        _arrow(ax, (cx + 0.12, ys["L"] - 0.25), (cx + 0.12, ys["y"] + H / 2), color=grad_color,
               ls="--")
        _arrow(ax, (cx + 0.12, ys["y"] - H / 2), (cx + 0.12, ys["a"] + H / 2),
               r"$W_{ya}^\top(\hat y - y)$" if i == steps - 1 else None, side="right",
               color=grad_color, ls="--")
        if i + 1 < steps:
            nx = 1.2 + (i + 1) * DX * 1.25
            _arrow(ax, (cx + W / 2, ys["a"] + 0.12), (nx - W / 2, ys["a"] + 0.12), color=grey)
            _arrow(ax, (nx - W / 2, ys["a"] - 0.12), (cx + W / 2, ys["a"] - 0.12), color=grad_color,
                   ls="--")
            ax.text((cx + nx) / 2, ys["a"] - 0.2,
                    r"$W_{aa}^\top\,\delta^{\langle t+1\rangle}$" if i == steps - 2 else "",
                    ha="center", va="top", fontsize=9, color=grad_color)
    ax.text(1.2 - 0.9, ys["a"], r"$a^{\langle 0\rangle}$", ha="right", va="center", fontsize=11)
    _arrow(ax, (1.2 - 0.85, ys["a"] + 0.12), (1.2 - W / 2, ys["a"] + 0.12), color=grey)
    right = 1.2 + (steps - 1) * DX * 1.25
    ax.text((1.2 + right) / 2, -0.85,
            r"$\delta^{\langle t\rangle} = (1 - (a^{\langle t\rangle})^2) \odot \left(W_{ya}^\top(\hat y^{\langle t\rangle}"
            r" - y^{\langle t\rangle}) + W_{aa}^\top \delta^{\langle t+1\rangle}\right),\qquad"
            r"\partial\mathcal{L}/\partial W_{aa} = \sum_t \delta^{\langle t\rangle} a^{\langle t-1\rangle\top}$",
            ha="center", va="center", fontsize=10, color=grad_color)
    ax.set_xlim(1.2 - 1.5, right + W + 0.6)
    ax.set_ylim(-1.2, 3 * DY + 0.4)
    return ax
