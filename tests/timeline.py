"""Where the suite's time goes: with ``TEST_TIMELINE=DIR``, every test process writes each
test phase's start, stop and CPU seconds (``DIR/<worker>.jsonl``) and the main process samples the machine's
CPU use every 2 s (``DIR/cpu.jsonl``). ``python -m scripts.test_timeline DIR`` reads them
(docs/benchmarks/tests.md). Without the variable this plugin does nothing."""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from pathlib import Path

_DIR = os.environ.get("TEST_TIMELINE")


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields), idle


def _sample_cpu(path: Path, stop: threading.Event) -> None:
    total0, idle0 = _cpu_times()
    with open(path, "a") as f:
        while not stop.wait(2.0):
            total, idle = _cpu_times()
            busy = 1 - (idle - idle0) / max(total - total0, 1)
            f.write(json.dumps({"t": time.time(), "busy": round(busy * os.cpu_count(), 3)}) + "\n")
            f.flush()
            total0, idle0 = total, idle


def pytest_configure(config):
    if not _DIR or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    Path(_DIR).mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    threading.Thread(target=_sample_cpu, args=(Path(_DIR) / "cpu.jsonl", stop), daemon=True).start()
    config._timeline_stop = stop


def pytest_unconfigure(config):
    stop = getattr(config, "_timeline_stop", None)
    if stop is not None:
        stop.set()


def _cpu_used() -> float:
    """User + system seconds of this process and of its children that have been waited for
    (subprocesses, kernels, sandboxes, cluster workers: each adds its own children's when it is
    reaped)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


_last_cpu = [0.0]


def pytest_runtest_logstart(nodeid, location):
    if _DIR:
        _last_cpu[0] = _cpu_used()


def pytest_runtest_logreport(report):
    if not _DIR or not os.environ.get("PYTEST_XDIST_WORKER") and hasattr(report, "node"):
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    now = _cpu_used()
    cpu, _last_cpu[0] = now - _last_cpu[0], now
    with open(Path(_DIR) / f"{worker}.jsonl", "a") as f:
        f.write(json.dumps({"test": report.nodeid, "phase": report.when, "start": report.start,
                            "stop": report.stop, "cpu": round(cpu, 2), "outcome": report.outcome}) + "\n")
