"""Read a ``TEST_TIMELINE`` folder (tests/timeline.py) and print where the suite's wall time went:
each test process's tests in order, how long each sat with nothing to run, and the machine's CPU
use minute by minute with the tests running in that minute.

    TEST_TIMELINE=/tmp/tl make test && python -m scripts.test_timeline /tmp/tl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def _load(folder: Path) -> tuple[dict[str, list[dict]], list[dict]]:
    workers: dict[str, list[dict]] = {}
    cpu: list[dict] = []  # no samples when only a test process wrote (pytest without xdist's main process)
    for p in sorted(folder.glob("*.jsonl")):
        rows = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
        if p.stem == "cpu":
            cpu = rows
        else:
            workers[p.stem] = rows
    return workers, cpu


def _spans(rows: list[dict]) -> list[tuple[float, float, str, float]]:
    """(start, stop, test, CPU seconds) per test, its phases merged."""
    by_test: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, float] = defaultdict(float)
    for r in rows:
        by_test[r["test"]] += [r["start"], r["stop"]]
        cpu[r["test"]] += r.get("cpu", 0.0)
    return sorted((min(v), max(v), k, cpu[k]) for k, v in by_test.items())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--window", type=float, default=60.0, help="seconds per line of the CPU table")
    p.add_argument("--longer-than", type=float, default=20.0, help="list tests longer than this")
    args = p.parse_args(argv)
    workers, cpu = _load(args.folder)
    spans = {w: _spans(rows) for w, rows in workers.items()}
    t0 = min(s[0][0] for s in spans.values() if s)
    t1 = max(s[-1][1] for s in spans.values() if s)
    print(f"tests ran {t1 - t0:.0f} s; {len(cpu)} CPU samples")
    for w, s in sorted(spans.items()):
        busy = sum(b - a for a, b, _, _ in s)
        print(f"\n{w}: {len(s)} tests, {busy:.0f} s in tests, {sum(c for *_, c in s):.0f} CPU-s, "
              f"finished {t1 - s[-1][1]:.0f} s before the last")
        print(f"  {'start':>7} {'stop':>7} {'wall':>6} {'CPU':>6}")
        for a, b, test, c in s:
            if b - a >= args.longer_than:
                print(f"  {a - t0:7.0f} {b - t0:7.0f} {b - a:6.0f} {c:6.0f}  {test}")
    print(f"\n{'minute':>8} {'cores busy':>10}  running")
    t = t0
    while t < t1:
        samples = [c["busy"] for c in cpu if t <= c["t"] < t + args.window]
        running = sorted({test.split("::")[-1][:60] for s in spans.values() for a, b, test, _ in s
                          if a < t + args.window and b > t and b - a >= args.longer_than})
        mean = sum(samples) / len(samples) if samples else float("nan")
        print(f"{(t - t0) / 60:8.1f} {mean:10.2f}  {'; '.join(running)}")
        t += args.window
    by_cpu = sorted((c, test) for s in spans.values() for *_, test, c in s)[::-1]
    total = sum(c for c, _ in by_cpu)
    print(f"\nCPU-s of the test processes and their children: {total:.0f}; the 15 largest:")
    for c, test in by_cpu[:15]:
        print(f"  {c:6.0f}  {test}")
    if cpu:
        inside = [c["busy"] for c in cpu if t0 <= c["t"] <= t1]
        print(f"\nmean cores busy while tests ran: {sum(inside) / len(inside):.2f} of {max(1, round(max(inside)))}"
              " (samples of the whole machine)")


if __name__ == "__main__":
    main()
