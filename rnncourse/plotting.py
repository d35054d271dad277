"""Plot style shared by the book's figures."""

import matplotlib.pyplot as plt

# The book's one palette. Curves: one colour per kind of model, in every chapter.
COLORS = {"rnn": "#1f77b4", "gru": "#2ca02c", "lstm": "#d62728", "cnn": "#9467bd",
          "attention": "#ff7f0e", "baseline": "#7f7f7f"}
# Diagrams (rnncourse.diagrams, rnncourse.gate_diagrams): boxes by role, lines, and the
# state's path in the colour of the RNN curves.
DIAGRAM = {"input": "#d9efd3", "hidden": "#d3e3f5", "output": "#f7d9d2", "encoder": "#e6dcf3",
           "gate": "#fdebd0", "candidate": "#d6eaf8", "op": "#ffffff", "line": "#333333",
           "state": COLORS["rnn"]}


def setup() -> None:
    """Readable defaults for book figures (no network fonts: DejaVu Sans ships with matplotlib)."""
    plt.rcParams.update({
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 110,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.family": "DejaVu Sans",
        "legend.frameon": False,
    })
