"""The batch grader's reports: grades CSV, per-cell CSV, summary table and histograms, errors."""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from autograder.points import shown


@dataclass
class Row:
    """One student's grade for one assignment, as the coordinator recorded it."""

    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # "nb/cell" -> (score, max)
    flags: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sandbox: str = ""
    seconds: float = 0.0

    @property
    def status(self) -> str:
        if any("tamper:" in f for f in self.flags):
            return "flagged"
        return "error" if self.errors else "ok"


COLUMNS = ["student", "assignment", "score", "max_score", "percent", "status", "flags", "errors",
           "sandbox", "seconds"]


def write_csv(rows: list[Row], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in sorted(rows, key=lambda r: (r.assignment, r.student)):
            pct = 100 * r.score / r.max_score if r.max_score else 0.0
            w.writerow([r.student, r.assignment, shown(r.score), shown(r.max_score), f"{pct:.1f}",
                        r.status, " | ".join(r.flags), " | ".join(r.errors), r.sandbox, f"{r.seconds:.1f}"])


def write_cells_csv(rows: list[Row], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "notebook", "cell", "score", "max_score"])
        for r in sorted(rows, key=lambda r: (r.assignment, r.student)):
            for key, (score, mx) in sorted(r.cells.items()):
                nb, cell = key.split("/", 1)
                w.writerow([r.student, r.assignment, nb, cell, shown(score), shown(mx)])


def summary_text(rows: list[Row]) -> str:
    """A short table per assignment and a text histogram of its scores."""
    out = []
    by_a: dict[str, list[Row]] = {}
    for r in rows:
        by_a.setdefault(r.assignment, []).append(r)
    out.append(f"{'assignment':<24} {'n':>4} {'mean':>6} {'median':>6} {'min':>5} {'max':>5} "
               f"{'full':>5} {'zero':>5} {'flagged':>7} {'errors':>6}")
    for a, rs in sorted(by_a.items()):
        s = [r.score for r in rs]
        mx = max(r.max_score for r in rs)
        out.append(f"{a:<24} {len(rs):>4} {statistics.mean(s):>6.2f} {statistics.median(s):>6.2f} "
                   f"{min(s):>5g} {max(s):>5g} {sum(x >= mx for x in s):>5} {sum(x == 0 for x in s):>5} "
                   f"{sum(r.status == 'flagged' for r in rs):>7} {sum(bool(r.errors) for r in rs):>6}")
    for a, rs in sorted(by_a.items()):
        mx = max(r.max_score for r in rs) or 1
        out.append(f"\n{a}: score histogram (out of {mx:g})")
        edges = _edges(mx)
        counts = _histogram([r.score for r in rs], edges)
        width = max(counts) or 1
        for (lo, hi), c in zip(zip(edges[:-1], edges[1:], strict=True), counts, strict=True):
            bar = "#" * round(30 * c / width)
            out.append(f"  {lo:>5g}-{hi:<5g} {c:>4} {bar}")
    return "\n".join(out) + "\n"


def _edges(mx: float, bins: int = 10) -> list[float]:
    return [round(mx * i / bins, 6) for i in range(bins + 1)]


def _histogram(values: list[float], edges: list[float]) -> list[int]:
    counts = [0] * (len(edges) - 1)
    for v in values:
        i = min(len(counts) - 1, max(0, next((k for k in range(len(counts)) if v < edges[k + 1]), len(counts) - 1)))
        counts[i] += 1
    return counts


def write_histograms(rows: list[Row], path: Path) -> None:
    """One histogram per assignment in a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = sorted({r.assignment for r in rows})
    if not names:
        return
    cols = min(3, len(names))
    nrows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
    for ax, a in zip(list(axes.flat)[:len(names)], names, strict=True):
        rs = [r for r in rows if r.assignment == a]
        mx = max(r.max_score for r in rs) or 1
        ax.hist([r.score for r in rs], bins=_edges(mx), color="#4C72B0", edgecolor="white")
        ax.set_title(f"{a} (n={len(rs)})", fontsize=10)
        ax.set_xlabel(f"score (out of {mx:g})")
        ax.set_ylabel("students")
        ax.set_xlim(0, mx)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def error_list(rows: list[Row], problems: list[str]) -> str:
    lines = []
    for r in sorted(rows, key=lambda r: (r.student, r.assignment)):
        for e in r.errors:
            lines.append(f"{r.student} / {r.assignment}: {e}")
        for f in r.flags:
            lines.append(f"{r.student} / {r.assignment}: flag: {f}")
    lines += [f"(intake) {p}" for p in problems]
    return "\n".join(lines) + ("\n" if lines else "")
