"""`python -m scripts.gpu_check` (make gpu-check) runs end to end on the CPU (--quick) and writes its report."""

import json
import subprocess
import sys

import pytest

from rnngrade.course import ROOT


@pytest.mark.slow
def test_gpu_check_quick_on_cpu(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scripts.gpu_check", "--out", str(tmp_path),
                           "--quick", "--device", "cpu"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    names = [r["exercise"] for r in report["exercises"]]
    assert names == ["ex06_seq2seq", "ex07_attention"]
    for r in report["exercises"]:
        assert r["grades_identically"] and r["predictions_identical"] and r["greedy_identical"]
        assert r["steps_run"] <= 20
        assert {t["device"] for t in r["timings"]} == {"cpu"}
        assert (tmp_path / "checkpoints" / f"{r['exercise']}.safetensors").is_file()
    md = (tmp_path / "report.md").read_text()
    assert "ex06_seq2seq" in md and "ex07_attention" in md
