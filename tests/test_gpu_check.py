"""`python -m scripts.gpu_check` (make gpu-check) runs end to end on the CPU (--quick) and writes its report."""

import json
import re
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
    assert names == ["ex06_seq2seq", "ex07_attention", "ex08_pronunciation"]
    g2p = report["exercises"][-1]
    assert g2p["grades_identically"] and g2p["predictions_identical"]
    assert g2p["tiers"] == [0.65, 0.55, 0.45, 0.40] and set(g2p["seconds_and_steps_to_tier"]) == {
        "0.65", "0.55", "0.45", "0.4"}
    assert len(g2p["validation_wer_curve"]) == 2 and all(0 <= w <= 1 for _, w in g2p["validation_wer_curve"])
    assert 0 <= g2p["test_wer_cpu"] <= 1 and g2p["steps_run"] == 20
    # stress removed, fewer predictions can be wrong: as the published figures count
    assert 0 <= g2p["test_wer_without_stress"] <= g2p["test_wer_cpu"]
    assert g2p["every_test_word_without_stress"]["words"] == 200  # --quick: 200 of the test words
    assert 0 <= g2p["every_test_word_without_stress"]["wer"] <= 1
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", report["environment"]["date"])  # the day it ran (UTC)
    assert {t["device"] for t in g2p["timings"]} == {"cpu"} and g2p["cpu2_over_device_ratio"] > 0
    for r in report["exercises"][:2]:
        assert r["grades_identically"] and r["predictions_identical"] and r["greedy_identical"]
        assert r["steps_run"] <= 20
        assert {t["device"] for t in r["timings"]} == {"cpu"}
        assert (tmp_path / "checkpoints" / f"{r['exercise']}.safetensors").is_file()
    md = (tmp_path / "report.md").read_text()
    assert "ex06_seq2seq" in md and "ex07_attention" in md and "ex08_pronunciation: time to each WER tier" in md


def test_gpu_check_reads_exercise_8_tiers_as_its_hidden_test_sets_them():
    """scripts.gpu_check times exercise 8's WER tiers; they must be the hidden test's (no drift)."""
    import ast
    import re

    import nbformat

    from scripts import gpu_check

    nb = nbformat.read(ROOT / "solutions" / gpu_check.G2P / f"{gpu_check.G2P}.ipynb", as_version=4)
    (cell,) = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_trained_model"]
    (listed,) = re.findall(r'parametrize\("threshold", (\[[^\]]*\])\)', cell)
    assert tuple(ast.literal_eval(listed)) == gpu_check.G2P_TIERS
    assert f"_evenly_spaced(_HELDOUT, {gpu_check.G2P_TEST_SAMPLE})" in cell


def test_g2p_full_trains_exercise_8s_full_configuration_on_the_cpu():
    """``make bench`` shows the full model's marks on a CPU (``--g2p-full``): the notebook's
    own full configuration, trained on the device given, not the CPU configuration."""
    import torch

    from scripts import gpu_check

    cpu = torch.device("cpu")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        small, _ = gpu_check.g2p_namespace(cpu, {})
        assert torch.get_num_threads() == 1, "the CPU configuration trains on one thread"
        torch.set_num_threads(2)
        full, train_code = gpu_check.g2p_namespace(cpu, {}, full=True)
        # make bench-g2p trains the full model on a CPU with every thread torch was given
        assert torch.get_num_threads() == 2, "the full configuration keeps the threads it was given"
    finally:
        torch.set_num_threads(before)
    assert small["DEVICE"] == full["DEVICE"] == cpu
    assert full["CONFIG"]["model"]["hidden_size"] > small["CONFIG"]["model"]["hidden_size"]
    assert full["CONFIG"]["steps"] > small["CONFIG"]["steps"]
    assert "train(model" in train_code and "device=DEVICE" in train_code
