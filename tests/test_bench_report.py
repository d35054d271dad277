"""The benchmark report's parsing and rendering (the measurements themselves run in `make bench`)."""

from __future__ import annotations

import nbformat

from scripts import bench_course


def _table(rows: dict[str, tuple[float, float]]) -> str:
    # the print statements of the timing cell in solutions/ex05_lstm, verbatim
    base_f, base_b = rows["LSTM (unfused)"]
    out = ["N=64, T=50, D=32, H=128, 1 CPU thread(s)",
           f"{'layer':>16} {'forward':>10} {'speed-up':>9} {'fwd+bwd':>10} {'speed-up':>9}"]
    for name, (tf, tb) in rows.items():
        out.append(f"{name:>16} {tf * 1e3:8.1f}ms {base_f / tf:8.2f}x {tb * 1e3:8.1f}ms {base_b / tb:8.2f}x")
    return "\n".join(out) + "\n"


def test_timing_cell_layout_is_the_one_the_benchmark_parses():
    sol = nbformat.read(bench_course.ROOT / "solutions" / "ex05_lstm" / "ex05_lstm.ipynb", as_version=4)
    src = "\n".join(c.source for c in sol.cells if c.cell_type == "code")
    assert "{name:>16} {tf * 1e3:8.1f}ms {base_f / tf:8.2f}x {tb * 1e3:8.1f}ms {base_b / tb:8.2f}x" in src


def test_lstm_figure_from_an_executed_notebook(tmp_path):
    rows = {"LSTM (unfused)": (0.0200, 0.0500), "FusedLSTM": (0.0120, 0.0300), "nn.LSTM": (0.0080, 0.0200)}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(table)")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=_table(rows))]
    path = tmp_path / "ex05_lstm.ipynb"
    nbformat.write(nb, path)
    fig = bench_course.lstm_figure(path)
    assert fig["fused_ms"] == 30.0 and fig["nn_lstm_ms"] == 20.0 and fig["unfused_ms"] == 50.0
    assert fig["fused_vs_nn"] == 1.5 and fig["fused_vs_unfused"] == 0.6 and fig["status"] == "met"
    slow = dict(rows, FusedLSTM=(0.03, 0.06))  # slower than the unfused layer
    nb.cells[0].outputs[0].text = _table(slow)
    nbformat.write(nb, path)
    assert bench_course.lstm_figure(path)["status"] == "NOT met"
    nb.cells[0].outputs = []
    nbformat.write(nb, path)
    assert bench_course.lstm_figure(path)["status"] == bench_course.NA
