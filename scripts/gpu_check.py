"""Train the reference models of exercises 6, 7 and 8 on the GPU and check they grade the same on the CPU.

    python -m scripts.gpu_check --out DIR            # on a machine with CUDA (make gpu-check)
    python -m scripts.gpu_check --out DIR --quick    # a few steps on whatever is there (a test)
    python -m scripts.gpu_check --out DIR --device cpu --only ex08_pronunciation --g2p-full
                                                     # exercise 8's full model on the CPU (make bench)

For each exercise it

1. executes the solution notebook's code cells (setup, given code, solutions, the training
   cell; not the test or plotting cells), so the models, the hyperparameters and the training
   call are the notebook's own. The training cell runs on ``--device`` (default: CUDA when
   available), in float32 as the notebook asks (the run of 2026-11-28 used bfloat16 autocast,
   which the notebooks then dropped: it was slower); we record when the
   validation exact match first reached the grader's full-marks bar (*time to threshold*);
2. reloads the checkpoint the cell saved on the CPU, as the grader does, and compares its
   predictions (the teacher-forced argmax the grader uses, and free-running greedy decoding)
   with those of the same weights on the training device;
3. times a fixed number of training steps of a fresh model on the device (float32 and
   bfloat16 autocast) and on the CPU with 2 threads (the course's reference machine), and
   reports steps per second, the CPU/GPU ratio, and the CPU time the reference training
   would take at that speed.

Exercise 8 (pronunciation) is graded by word error rate, not exact match: its training cell is
given an evaluation (the notebook's own ``error_rates`` on its validation sample, every
``G2P_EVAL_EVERY`` steps) so that the time to each of the hidden test's WER tiers can be read off;
the checkpoint's WER on the grader's sample of test words is computed on the CPU and on the
device; and the CPU/device ratio is that of the notebook's configuration for the device (on a
GPU the full one).

Results go to ``DIR/report.json`` and ``DIR/report.md``; checkpoints to ``DIR/checkpoints``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import io
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import torch  # noqa: E402

from rnngrade.solutions import code_cells, run_cell, solution_digest  # noqa: E402 - reads the notebooks as JSON: no Jupyter stack needed

# Which notebook, which classes, the cell that trains, the cells never to run here, and the
# grader's full-marks bar on unseen dates (the last threshold of the hidden test).
EXERCISES = {
    "ex06_seq2seq": dict(model="Seq2Seq", bar=0.90),
    "ex07_attention": dict(model="AttentionSeq2Seq", bar=0.98),
}
SKIP_CELLS = {"look", "plot", "data"}
PUBLIC_TEST_SEED = 2024  # a public held-out sample; the grader's seed is elsewhere


def notebook_namespace(name: str, patches: dict) -> tuple[dict, str]:
    """Run the code cells of ``solutions/<name>/<name>.ipynb`` but the tests, the plots and the
    training cell in a namespace; return it and the training cell's code.

    ``patches`` replace names after the setup cell ran (e.g. a recording ``train``), so the
    training cell, run by the caller, calls them instead of the originals.
    """
    ns: dict = {"__name__": f"notebook_{name}"}
    train_code = ""
    for gid, meta, code in code_cells(name):
        if meta.get("grade") or gid in SKIP_CELLS:
            continue
        if gid == "train":
            train_code = code
            continue
        run_cell(ns, name, gid, code)
        if gid == "setup":
            ns.update(patches)
    return ns, train_code


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Recorder:
    """Wraps ``rnncourse.train`` to record what the notebook's training call did and when."""

    def __init__(self, real_train, device: torch.device, max_steps: int | None, time_limit: float | None,
                 evaluate=None, eval_every: int | None = None):
        self.real_train, self.device = real_train, device
        self.max_steps, self.time_limit = max_steps, time_limit
        self.evaluate, self.eval_every = evaluate, eval_every  # for a training call that has none
        self.force_fp32 = False
        self.calls: list[dict] = []

    def __call__(self, model, batches, **kw):
        first = next(batches)
        batches = itertools.chain([first], batches)
        kw["device"] = self.device
        if self.evaluate is not None and kw.get("evaluate") is None:
            kw["evaluate"], kw["eval_every"] = self.evaluate, self.eval_every or 100
        if self.max_steps is not None:
            kw["steps"] = min(kw["steps"], self.max_steps)
        if self.time_limit is not None:
            kw["time_limit"] = self.time_limit
        if self.max_steps is not None:  # a smoke test: evaluate often enough to see a few scores
            kw["eval_every"] = min(kw.get("eval_every", 100), max(1, self.max_steps // 2))
        kw["progress"] = False
        if self.force_fp32:
            kw["autocast"] = None
        evaluate, times = kw.get("evaluate"), []
        start = [0.0]
        if evaluate is not None:
            def timed(m):
                score = evaluate(m)
                _sync(self.device)
                times.append((time.perf_counter() - start[0], score))
                return score
            kw["evaluate"] = timed
        _sync(self.device)
        start[0] = time.perf_counter()
        hist = self.real_train(model, batches, **kw)
        self.calls.append(dict(kwargs={k: v for k, v in kw.items() if k != "evaluate"},
                               batch_size=int(first[0].shape[0]), history=hist, eval_times=times))
        return hist


@torch.no_grad()
def teacher_forced_predictions(model, pairs, dates, device) -> torch.Tensor:
    """The grader's predictions: argmax tokens (N, 11) of one teacher-forced pass."""
    model = model.to(device).eval()
    src, tgt = (t.to(device) for t in dates.encode_pairs(pairs))
    logits, _ = model(src, tgt)
    return logits.argmax(-1).cpu(), logits.float().cpu()


@torch.no_grad()
def greedy_predictions(model, pairs, dates, device, max_len: int) -> torch.Tensor:
    """Free-running greedy tokens (N, max_len), decoded step by step with the model's decoder."""
    model = model.to(device).eval()
    src, _ = dates.encode_pairs(pairs)
    src = src.to(device)
    enc = model.encoder(src)
    if len(enc) == 3:  # attention: (states, h, mask)
        states, h, mask = enc
        step = lambda y, h: model.decoder.step(y, h, states, mask)[:2]  # noqa: E731
    else:
        _, h = enc
        step = model.decoder.step
    y = torch.full((src.shape[0],), dates.SOS, dtype=torch.long, device=device)
    out = []
    for _ in range(max_len):
        logits, h = step(y, h)
        y = logits.argmax(-1)
        out.append(y)
    return torch.stack(out, 1).cpu()


def date_batches(batch_size: int):
    """Exercises 6 and 7's training batches (the dates task)."""
    from rnncourse.data import dates

    train_pairs, _ = dates.train_val_split()
    return dates.batches(train_pairs, batch_size, seed=1)


def time_steps(model_factory, batch_size: int, steps: int, device: torch.device, autocast,
               threads: int | None = None, make_batches=date_batches) -> dict:
    """Seconds per training step of a fresh model (the first 5 steps are warm-up, not timed)."""
    from rnncourse.train import train

    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = model_factory()
        batches = make_batches(batch_size)
        train(model, batches, steps=5, device=device, progress=False, autocast=autocast)
        _sync(device)
        start = time.perf_counter()
        train(model, batches, steps=steps, device=device, progress=False, autocast=autocast)
        _sync(device)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(old_threads)
    return dict(device=str(device), autocast=str(autocast).replace("torch.", "") if autocast else None,
                threads=threads or old_threads, steps=steps, seconds=round(seconds, 3),
                seconds_per_step=seconds / steps)


def check_exercise(name: str, device: torch.device, out: Path, quick: bool) -> dict:
    from rnncourse import train as real_train
    from rnncourse.data import dates

    spec = EXERCISES[name]
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    stem = str(ckpt_dir / name)
    recorder = Recorder(real_train, device, max_steps=20 if quick else None, time_limit=None)
    patches = {"train": recorder, "pick_device": lambda prefer=None: device, "CHECKPOINT": stem,
               "is_grading": lambda: False}
    ns, train_code = notebook_namespace(name, patches)
    printed, train_error = io.StringIO(), None
    with contextlib.redirect_stdout(printed):
        wall = time.perf_counter()
        try:
            run_cell(ns, name, "train", train_code)
        except Exception as e:  # e.g. bf16 autocast unsupported for an RNN op by this torch/cuDNN
            train_error = f"{type(e).__name__}: {e}"
            recorder.force_fp32 = True
            wall = time.perf_counter()
            run_cell(ns, name, "train", train_code)
        wall = time.perf_counter() - wall
    call = recorder.calls[-1]
    hist = call["history"]
    reached = next(((t, s) for t, s in call["eval_times"] if s >= spec["bar"]), None)
    steps_to_bar = next((st for st, s in hist.evals if s >= spec["bar"]), None)
    report = dict(
        exercise=name, device=str(device), autocast=str(call["kwargs"].get("autocast")),
        notebook_training_error=train_error,
        batch_size=call["batch_size"], lr=call["kwargs"].get("lr"), steps_run=hist.steps[-1],
        train_seconds=round(hist.seconds, 2), cell_seconds=round(wall, 2),
        final_val_exact_match=hist.evals[-1][1] if hist.evals else None,
        full_marks_bar=spec["bar"],
        seconds_to_bar=None if reached is None else round(reached[0], 2),
        steps_to_bar=steps_to_bar,
        printed=printed.getvalue().strip(),
        eval_curve=[(st, round(s, 4)) for st, s in hist.evals],
    )

    # The grader's view: the saved checkpoint rebuilt on the CPU, against the same weights on the device.
    cls = ns[spec["model"]]
    cpu_model = ns["load_checkpoint"](stem, cls)
    device_model = ns["load_checkpoint"](stem, cls).to(device)
    pairs = dates.heldout_split(PUBLIC_TEST_SEED, n=300 if quick else 2000)
    p_cpu, l_cpu = teacher_forced_predictions(cpu_model, pairs, dates, torch.device("cpu"))
    p_dev, l_dev = teacher_forced_predictions(device_model, pairs, dates, device)
    _, tgt = dates.encode_pairs(pairs)
    em_cpu = (p_cpu == tgt[:, 1:]).all(1).float().mean().item()
    em_dev = (p_dev == tgt[:, 1:]).all(1).float().mean().item()
    em_notebook = ns["exact_match"](cpu_model, pairs)
    g_cpu = greedy_predictions(cpu_model, pairs, dates, torch.device("cpu"), dates.TARGET_LEN + 1)
    g_dev = greedy_predictions(device_model, pairs, dates, device, dates.TARGET_LEN + 1)
    report.update(
        public_heldout_exact_match_cpu=em_cpu,
        public_heldout_exact_match_device=em_dev,
        notebook_exact_match_cpu=em_notebook,
        predictions_identical=bool(torch.equal(p_cpu, p_dev)),
        greedy_identical=bool(torch.equal(g_cpu, g_dev)),
        greedy_rows_differing=int((g_cpu != g_dev).any(1).sum()),
        max_abs_logit_difference=float((l_cpu - l_dev).abs().max()),
        # exact-match rates from float32 tensors and from Python floats differ in the 8th digit
        grades_identically=bool(round(float(em_cpu), 6) == round(float(em_dev), 6) == round(float(em_notebook), 6)),
    )

    # Speed: fixed steps of a fresh model on the device and on a 2-thread CPU.
    factory = lambda: cls(**cpu_model.init_kwargs)  # noqa: E731
    n = 10 if quick else (300 if device.type == "cuda" else 100)
    n_cpu = 10 if quick else 60
    timings = [time_steps(factory, call["batch_size"], n, device, None)]
    if device.type == "cuda":
        try:
            timings.append(time_steps(factory, call["batch_size"], n, device, torch.bfloat16))
        except Exception as e:
            report["bf16_error"] = f"{type(e).__name__}: {e}"
    cpu = time_steps(factory, call["batch_size"], n_cpu, torch.device("cpu"), None, threads=2)
    timings.append(cpu)
    report["timings"] = timings
    fastest = min(t["seconds_per_step"] for t in timings if t["device"] != "cpu") if device.type != "cpu" \
        else cpu["seconds_per_step"]
    report["cpu2_over_device_ratio"] = round(cpu["seconds_per_step"] / fastest, 2)
    used = steps_to_bar or report["steps_run"]
    report["estimated_cpu2_seconds_to_bar"] = round(used * cpu["seconds_per_step"], 1)
    return report


G2P = "ex08_pronunciation"
G2P_TIERS = (0.65, 0.55, 0.45, 0.40)  # the hidden test's WER thresholds (solutions/ex08_pronunciation)
G2P_TEST_SAMPLE = 2000  # the hidden test's sample of test words, evenly spaced in alphabetical order
G2P_EVAL_EVERY = 250


class _FullConfiguration:
    """What ``pick_device`` returns to exercise 8's configuration cell under ``--g2p-full``: not
    a CPU, so the cell picks the full configuration (the GPU's); the training cell then gets the
    real device back (``g2p_namespace``)."""

    type = "full configuration"

    def __str__(self) -> str:
        return "the full configuration"


def g2p_namespace(device: torch.device, patches: dict, full: bool = False) -> tuple[dict, str]:
    """Exercise 8's notebook namespace and training cell, with the configuration its cell picks
    for ``device`` or, with ``full``, the full one (the GPU's) on ``device``: ``make bench``
    trains that on the CPU, however long it takes, to show the full model's marks there."""
    picked = _FullConfiguration() if full else device
    ns, train_code = notebook_namespace(G2P, {**patches, "pick_device": lambda prefer=None: picked})
    ns["DEVICE"] = device
    return ns, train_code


def check_g2p(device: torch.device, out: Path, quick: bool, full: bool = False) -> dict:
    """Exercise 8: train as the notebook does on ``device`` (with ``full``, its full
    configuration whatever the device), time to each WER tier, the test words' WER of the
    checkpoint on the CPU and on the device, and the CPU/device speed ratio."""
    from autograder.oracles.g2p import heldout_lexicon, phoneme_error_rate, word_error_rate
    from rnncourse import train as real_train
    from rnncourse.data import pronunciations as P
    from rnngrade.public_data import evenly_spaced

    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    stem = str(ckpt_dir / G2P)
    ns: dict = {}
    val_words = P.validation_words()[::10]  # the notebook's own validation sample

    def validation_score(model) -> float:  # higher is better for rnncourse.train
        return 1.0 - ns["error_rates"](model, val_words)["wer"]

    recorder = Recorder(real_train, device, max_steps=20 if quick else None, time_limit=None,
                        evaluate=validation_score, eval_every=10 if quick else G2P_EVAL_EVERY)
    patches = {"train": recorder, "CHECKPOINT": stem, "is_grading": lambda: False}
    loaded, train_code = g2p_namespace(device, patches, full)
    ns.update(loaded)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        wall = time.perf_counter()
        run_cell(ns, G2P, "train", train_code)
        wall = time.perf_counter() - wall
    train_threads = torch.get_num_threads()  # what the notebook's cells left set while it trained
    call = recorder.calls[-1]
    hist = call["history"]
    evals = [(st, round(1.0 - s, 4)) for st, s in hist.evals]  # (step, validation WER)
    tiers = {str(t): next(((round(sec, 1), st) for (sec, s), (st, _) in zip(call["eval_times"], hist.evals, strict=True)
                           if 1.0 - s <= t), None) for t in G2P_TIERS}

    heldout = heldout_lexicon()
    test_words = evenly_spaced(heldout, G2P_TEST_SAMPLE)
    refs = P.references(test_words, heldout)
    cls = ns["G2PModel"]
    cpu_model = ns["load_checkpoint"](stem, cls)
    device_model = ns["load_checkpoint"](stem, cls).to(device)
    # the notebook's error_rates, with each device's greedy decoding done once (it is compared too)
    preds_cpu, preds_dev = ns["pronounce"](cpu_model, test_words), ns["pronounce"](device_model, test_words)
    wer_cpu = {"wer": word_error_rate(preds_cpu, refs), "per": phoneme_error_rate(preds_cpu, refs)}
    wer_dev = {"wer": word_error_rate(preds_dev, refs)}
    def without_stress(words, preds) -> dict:
        """WER and PER with the stress digits removed from the predictions and the references, as
        the published CMUdict figures and chapter 8's side-by-side table count."""
        refs_plain = P.references(words, heldout, stress=False)
        plain = [P.strip_stress(p) for p in preds]
        return {"words": len(words), "wer": round(word_error_rate(plain, refs_plain), 4),
                "per": round(phoneme_error_rate(plain, refs_plain), 4)}

    sample_plain = without_stress(test_words, preds_cpu)
    every = evenly_spaced(heldout, 200) if quick else sorted(heldout)  # a smoke test: 200 of them
    every_plain = without_stress(every, ns["pronounce"](cpu_model, every))
    preds_identical = preds_cpu == preds_dev
    report = dict(
        exercise=G2P, device=str(device), config=ns["CONFIG"], full_configuration_forced=full,
        solution_digest=solution_digest(G2P),
        steps_run=hist.steps[-1] if hist.steps else 0,
        train_seconds=round(hist.seconds, 2), train_threads=train_threads, cell_seconds=round(wall, 2),
        printed=printed.getvalue().strip(),
        validation_wer_curve=evals, tiers=list(G2P_TIERS), seconds_and_steps_to_tier=tiers,
        test_wer_cpu=round(wer_cpu["wer"], 4), test_per_cpu=round(wer_cpu["per"], 4),
        test_wer_device=round(wer_dev["wer"], 4),
        test_wer_without_stress=sample_plain["wer"], test_per_without_stress=sample_plain["per"],
        every_test_word_without_stress=every_plain,
        predictions_identical=bool(preds_identical),
        grades_identically=round(wer_cpu["wer"], 6) == round(wer_dev["wer"], 6),
        tiers_passed=sum(wer_cpu["wer"] <= t for t in G2P_TIERS),
    )

    def g2p_batches(batch_size: int):
        return P.batches(P.pairs(P.train_words()), batch_size=batch_size, seed=1)

    factory = lambda: cls(**cpu_model.init_kwargs)  # noqa: E731
    n = 5 if quick else (200 if device.type == "cuda" else 60)
    n_cpu = 5 if quick else 30
    timings = [time_steps(factory, call["batch_size"], n, device, None, make_batches=g2p_batches)]
    cpu = time_steps(factory, call["batch_size"], n_cpu, torch.device("cpu"), None, threads=2,
                     make_batches=g2p_batches)
    timings.append(cpu)
    report["timings"] = timings
    report["cpu2_over_device_ratio"] = round(cpu["seconds_per_step"] / timings[0]["seconds_per_step"], 2)
    full_marks = tiers[str(G2P_TIERS[-1])]
    report["estimated_cpu2_seconds_to_full_marks"] = (
        round(full_marks[1] * cpu["seconds_per_step"], 1) if full_marks else None)
    return report


def g2p_markdown(r: dict) -> list[str]:
    forced = " (the full configuration, forced with --g2p-full)" if r.get("full_configuration_forced") else ""
    lines = ["", f"## {r['exercise']}: time to each WER tier", "",
             f"- configuration on {r['device']}{forced}: `{r['config']}`; {r['steps_run']} steps, "
             f"{r['train_seconds']} s of training on {r['train_threads']} thread(s)",
             f"- test words ({G2P_TEST_SAMPLE}, the grader's sample): WER {r['test_wer_cpu']} on the CPU, "
             f"{r['test_wer_device']} on the device (identical predictions: {r['predictions_identical']}); "
             f"PER {r['test_per_cpu']}; tiers passed {r['tiers_passed']} of {len(r['tiers'])}",
             f"- the same predictions with stress removed (as the published CMUdict figures count): "
             f"WER {r.get('test_wer_without_stress', '-')}, PER {r.get('test_per_without_stress', '-')}",
             "", "| WER tier (validation sample as the proxy) | seconds | steps |", "|---|---:|---:|"]
    if "every_test_word_without_stress" in r:
        every = r["every_test_word_without_stress"]
        lines[-3:-3] = [f"- every test word ({every['words']}), stress removed (chapter 8's table): "
                        f"WER {every['wer']}, PER {every['per']}"]
    for t in r["tiers"]:
        hit = r["seconds_and_steps_to_tier"][str(t)]
        lines.append(f"| {t} | {hit[0] if hit else '-'} | {hit[1] if hit else 'not reached'} |")
    dev, cpu = r["timings"][0], r["timings"][-1]
    lines += ["", f"- seconds per step: {dev['seconds_per_step'] * 1000:.1f} ms on {dev['device']}, "
              f"{cpu['seconds_per_step'] * 1000:.1f} ms on the CPU with 2 threads: CPU/device "
              f"**{r['cpu2_over_device_ratio']}x** (goal for this model: 10x or more); estimated CPU time to "
              f"full marks: {r['estimated_cpu2_seconds_to_full_marks']} s"]
    return lines


def markdown(results: dict) -> str:
    env = results["environment"]
    names = ", ".join(r["exercise"] for r in results["exercises"])
    lines = [f"# GPU check: {names}", "",
             f"- device: {env['device']} ({env.get('gpu_name') or 'no GPU'}), torch {env['torch']}, "
             f"quick={env['quick']}, total {results['total_seconds']:.0f} s"
             + (f", run on {env['date']}" if env.get("date") else ""), ""]
    dated = [r for r in results["exercises"] if r["exercise"] != G2P]
    if dated:
        lines += ["| exercise | steps run | train s | val EM | bar | s to bar | steps to bar | "
                  "held-out EM (CPU / device) | grades identically | greedy identical | "
                  "s/step device fp32 | s/step device bf16 | s/step CPU 2 thr | CPU/device | est. CPU s to bar |",
                  "|" + "---|" * 15]
    for r in dated:
        dev32 = next((x for x in r["timings"] if x["device"] == r["device"] and not x["autocast"]), None)
        dev16 = next((x for x in r["timings"] if x["autocast"]), None)
        cpu2 = r["timings"][-1]
        fmt = lambda x: f"{x['seconds_per_step'] * 1000:.1f} ms" if x else "-"  # noqa: E731
        lines.append(
            f"| {r['exercise']} | {r['steps_run']} | {r['train_seconds']} | {r['final_val_exact_match']} | "
            f"{r['full_marks_bar']} | {r['seconds_to_bar']} | {r['steps_to_bar']} | "
            f"{r['public_heldout_exact_match_cpu']:.4f} / {r['public_heldout_exact_match_device']:.4f} | "
            f"{r['grades_identically']} | {r['greedy_identical']} ({r['greedy_rows_differing']} rows differ) | "
            f"{fmt(dev32)} | {fmt(dev16)} | {fmt(cpu2)} | {r['cpu2_over_device_ratio']} | "
            f"{r['estimated_cpu2_seconds_to_bar']} |")
    for r in dated:
        for key in ("notebook_training_error", "bf16_error"):
            if r.get(key):
                lines.append(f"- **{r['exercise']} {key}**: `{r[key]}`")
        lines.append(f"- {r['exercise']} training ran with autocast={r['autocast']}; "
                     f"its output: {r['printed']!r}")
    if dated:
        lines += ["", "Time to the bar is measured at the notebook's evaluations (every `eval_every` steps), "
                  "evaluation time included. *Grades identically*: the checkpoint reloaded on the CPU gives the "
                  "same exact match as the same weights on the training device, with the grader's procedure.", ""]
    for r in results["exercises"]:
        if r["exercise"] == G2P:
            lines += g2p_markdown(r)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder for report.json, report.md, checkpoints")
    parser.add_argument("--quick", action="store_true", help="a few steps only (a smoke test, e.g. on a CPU)")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--only", nargs="*", choices=sorted([*EXERCISES, G2P]),
                        help="exercises to check (default: all)")
    parser.add_argument("--g2p-full", action="store_true",
                        help="exercise 8's full configuration (the GPU's) on --device, e.g. the CPU (make bench)")
    args = parser.parse_args(argv)

    from rnncourse import pick_device

    device = pick_device(args.device)
    if device.type != "cuda":
        print(f"warning: no CUDA device in use (torch {torch.__version__}, cuda available: "
              f"{torch.cuda.is_available()}): everything runs on {device}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    env = dict(date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"), device=str(device),
               torch=torch.__version__, python=platform.python_version(), quick=args.quick,
               cpu_threads=torch.get_num_threads(), cpu_count=os.cpu_count(),
               gpu_name=torch.cuda.get_device_name(device) if device.type == "cuda" else None)
    results = dict(environment=env, exercises=[])
    for name in args.only or [*EXERCISES, G2P]:
        t = time.perf_counter()
        check = functools.partial(check_g2p, full=args.g2p_full) if name == G2P else functools.partial(
            check_exercise, name)
        results["exercises"].append(check(device, args.out, args.quick))
        print(f"{name}: done in {time.perf_counter() - t:.0f} s", flush=True)
    results["total_seconds"] = round(time.perf_counter() - start, 1)
    (args.out / "report.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(results))
    print(markdown(results))
    for r in results["exercises"]:
        for key in ("notebook_training_error", "bf16_error"):
            if r.get(key):
                print(f"{r['exercise']}: {key}: {r[key]}")
    ok = all(r["grades_identically"] for r in results["exercises"])
    if not args.quick:
        ok = ok and all(r["seconds_to_bar"] is not None for r in results["exercises"] if r["exercise"] != G2P)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
