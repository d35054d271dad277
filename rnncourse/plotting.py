"""Plot style shared by the book's figures."""

import matplotlib.pyplot as plt

COLORS = {"rnn": "#1f77b4", "gru": "#2ca02c", "lstm": "#d62728", "cnn": "#9467bd",
          "attention": "#ff7f0e", "baseline": "#7f7f7f"}


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
