"""Kernels forked from ``rnngrade.zygote`` behave as fresh kernels: the same outputs, nothing
shared between notebooks, timeouts, interrupts and kills that reach them, and an ordinary
kernel whenever the zygote cannot give an equivalent one.

The test harness grades every exercise with forked kernels (``tests.harness.zygote``), so
these tests are what lets the suite's grades stand for those of ordinary kernels.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client import KernelManager

from rnngrade.zygote import SOCKET_ENV, Zygote

PROBE = """\
import sys
preloaded = "torch" in sys.modules
import os, json
import numpy as np
import torch
%matplotlib inline
import matplotlib
import matplotlib.pyplot as plt
torch.manual_seed(0)
np.random.seed(0)
print(json.dumps({
    "cwd": os.getcwd(),
    "path": sys.path,
    "argv0": os.path.basename(sys.argv[0]),
    "executable": sys.executable,
    "nbgrader": os.environ.get("NBGRADER_EXECUTION"),
    "backend": matplotlib.get_backend(),
    "threads": torch.get_num_threads(),
    "draws": [torch.rand(2).tolist(), np.random.rand(2).tolist()],
    "name": __name__,
}))
print("PRELOADED" if preloaded else "FRESH")
"""


def _run(cells: list[str], folder: Path, timeout: int = 60, **kw) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}, **kw).execute()
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    z = Zygote(tmp_path_factory.mktemp("zygote"), dict(os.environ))
    yield z
    z.close()


@pytest.fixture
def forked(zygote, monkeypatch):
    """Kernels started in this test come from the zygote."""
    for key in (SOCKET_ENV, "JUPYTER_PATH"):
        monkeypatch.setenv(key, zygote.env[key])
    return zygote


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def _wait_until(predicate, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_a_forked_kernel_runs_a_notebook_as_a_fresh_kernel_does(forked, tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    before = forked.counts()["forked"]
    warm = _run([PROBE], tmp_path)
    assert forked.counts()["forked"] == before + 1
    monkeypatch.delenv(SOCKET_ENV)
    monkeypatch.delenv("JUPYTER_PATH")
    fresh = _run([PROBE], tmp_path)
    warm_out, fresh_out = _text(warm.cells[0]).splitlines(), _text(fresh.cells[0]).splitlines()
    assert warm_out[1] == "PRELOADED" and fresh_out[1] == "FRESH"
    assert warm_out[0] == fresh_out[0], "a forked kernel differs from a fresh one"
    assert f'"cwd": "{tmp_path}"' in warm_out[0]
    figures = [o for o in warm.cells[0].outputs if o.output_type == "display_data"]
    assert not figures  # nothing drawn: the probe only imports; the same for both
    drawn = _run(["%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2]);"], tmp_path)
    assert any("image/png" in o.get("data", {}) for o in drawn.cells[0].outputs), "no inline figure"


def test_notebooks_forked_one_after_another_share_nothing(forked, tmp_path):
    _run(["import os, torch, numpy as np\n"
          "torch.nn.functional.relu = None\n"
          "np.LEFT_BEHIND = 1\n"
          "os.environ['LEFT_BEHIND'] = '1'\n"
          "import math; math.tau = 0"], tmp_path)
    second = _run(["import os, math, torch, numpy as np\n"
                   "print(torch.nn.functional.relu is not None, hasattr(np, 'LEFT_BEHIND'),\n"
                   "      'LEFT_BEHIND' in os.environ, math.tau > 6)"], tmp_path)
    assert _text(second.cells[0]).split() == ["True", "False", "False", "True"]


def test_a_cell_timeout_interrupts_the_kernel_and_the_next_cell_runs(forked, tmp_path):
    nb = _run(["import time\ntime.sleep(120)", "print('after')"], tmp_path, timeout=3,
              interrupt_on_timeout=True, allow_errors=True)
    errors = [o for o in nb.cells[0].outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "KeyboardInterrupt", nb.cells[0].outputs
    assert _text(nb.cells[1]).strip() == "after"
    assert _wait_until(lambda: not _children(forked.process.pid)), "a kernel outlived its notebook"


def test_killing_the_kernel_process_jupyter_started_kills_the_kernel(forked, tmp_path):
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive("import os; print(os.getpid())", timeout=30,
                               output_hook=lambda m: m["msg_type"] == "stream" and
                               (tmp_path / "pid").write_text(m["content"]["text"]))
        kernel = int((tmp_path / "pid").read_text())
        assert kernel in _children(forked.process.pid), "the kernel was not forked from the zygote"
        km.provisioner.process.send_signal(signal.SIGKILL)  # what jupyter_client does last
        assert _wait_until(lambda: not Path(f"/proc/{kernel}").exists()
                           or "Z" in Path(f"/proc/{kernel}/stat").read_text().rsplit(")", 1)[1][:3])
    finally:
        kc.stop_channels()
        km.cleanup_resources()


def test_an_environment_the_zygote_was_not_started_with_gets_an_ordinary_kernel(forked, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2" if os.environ.get("OMP_NUM_THREADS") == "1" else "1")
    before = forked.counts()
    probe = "import torch; print(torch.get_num_threads())"
    # What a fresh interpreter with this environment reports (torch may cap the thread
    # count, e.g. by MKL_NUM_THREADS or the CPUs it may use), not an assumed number.
    fresh = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, env=dict(os.environ)).stdout.split()
    nb = _run(["import os, sys; print('torch' in sys.modules, os.environ['OMP_NUM_THREADS'])\n" + probe],
              tmp_path)
    assert _text(nb.cells[0]).split() == ["False", os.environ["OMP_NUM_THREADS"], *fresh]
    assert forked.counts()["plain"] == before["plain"] + 1


def test_without_a_zygote_the_kernelspec_starts_an_ordinary_kernel(forked, tmp_path, monkeypatch):
    monkeypatch.setenv(SOCKET_ENV, str(tmp_path / "no-zygote-here.sock"))
    nb = _run(["import sys; print('torch' in sys.modules, 'ipykernel' in sys.modules)"], tmp_path)
    assert _text(nb.cells[0]).split() == ["False", "True"]


def test_the_test_harness_grades_with_forked_kernels(tmp_path):
    """nbgrader, run by ``tests.harness`` with ``zygote().env``, gets forked kernels (an
    environment that drifted from the zygote's would silently give ordinary, slower ones)."""
    import subprocess
    import sys

    from tests import harness

    z = harness.zygote()
    before = z.counts()
    code = ("import nbformat, nbclient\n"
            "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1 + 1')])\n"
            f"nbclient.NotebookClient(nb, kernel_name='python3', resources={{'metadata': {{'path': {str(tmp_path)!r}}}}}).execute()\n")
    subprocess.run([sys.executable, "-c", code], env={**z.env, "NBGRADER_EXECUTION": "autograde"},
                   check=True, capture_output=True, timeout=120)
    after = z.counts()
    assert (after["forked"], after["plain"]) == (before["forked"] + 1, before["plain"]), (before, after)
