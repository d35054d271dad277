# The course's commands. `make` builds the student exercises and the HTML book;
# `make test` runs every test. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch first: 2.13.0 is a CPU build. GPU users: see README ("GPU users").
TORCH_SPEC ?= torch==2.13.0
# Test processes. 3 on a 2-core machine: the suite's tests wait a good part of their time
# (kernels starting, sandboxed runs, graders' time limits), and a third process fills those
# waits (docs/benchmarks/tests.md).
JOBS ?= 3
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: all lock book exercises test test-fast lint gpu-check clean help bench bench-class bench-g2p bundle grade
.DEFAULT_GOAL := all

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/:/'

# torch (unless .venv has one), requirements-lock.txt and the course, without resolving again;
# pip's resolver takes over where `pip check` finds the result inconsistent (scripts/install.py).
$(BIN)/.installed: pyproject.toml requirements-lock.txt scripts/install.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m scripts.install --torch "$(TORCH_SPEC)"
	touch $@

lock:  ## re-resolve pyproject.toml's dependencies into requirements-lock.txt (a scratch venv)
	$(PYTHON) -m scripts.install --lock --torch "$(TORCH_SPEC)"

all: exercises book  ## release exercises/ from solutions/ and build the HTML book

exercises: $(BIN)/.installed  ## regenerate exercises/ from solutions/ (nbgrader generate_assignment)
	$(BIN)/python -m rnngrade.release generate

book: $(BIN)/.installed  ## build the HTML book into _build/html (chapters executed, warnings are errors)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

grade: $(BIN)/.installed  ## grade a class: make grade SUBMISSIONS=folder-or.zip [GRADE_ARGS="--workers 4"] (docs/grading.md)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder or zip> [GRADE_ARGS=...]"; exit 2; }
	$(BIN)/rnn-grade "$(SUBMISSIONS)" $(GRADE_ARGS)

# One torch thread per process: the test processes already use both cores, and on a busy
# machine 2 threads per process made training 10-25x slower (measured while building this).
test: $(BIN)/.installed  ## run all tests (solutions 20/20, blanks 0, wrong variants, leaks, drift, the book)
	@mkdir -p _build; start=$$(date +%s); \
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --durations=25; rc=$$?; \
	echo "$$(( $$(date +%s) - start )) seconds, exit $$rc, $$(date -u +%Y-%m-%dT%H:%MZ)" > _build/test-wall-time.txt; \
	exit $$rc

test-fast: $(BIN)/.installed  ## the tests that need neither training nor the book build
	$(BIN)/python -m pytest -n $(JOBS) -m "not slow"

bench: $(BIN)/.installed  ## measure the course (book builds, training, grading, test time): docs/benchmarks/REPORT.md
	$(BIN)/python -m scripts.bench_course
	$(BIN)/python -m scripts.bench_class
	$(MAKE) bench-g2p

bench-g2p: $(BIN)/.installed  ## exercise 8's full model trained on the CPU (about 45 min on 2 cores): docs/benchmarks/g2p-cpu.md
	$(BIN)/python -m scripts.gpu_check --device cpu --only ex08_pronunciation --g2p-full --out _build/bench-g2p
	cp _build/bench-g2p/report.md docs/benchmarks/g2p-cpu.md
	cp _build/bench-g2p/report.json docs/benchmarks/g2p-cpu.json
	$(BIN)/python -m scripts.forget_chapter book/ch08_pronunciation.md  # chapter 8 shows the stored run

bench-class: $(BIN)/.installed  ## rnn-grade on a synthetic class of 100 and 300, local and Dask: docs/benchmarks/class.md
	$(BIN)/python -m scripts.bench_class

bundle: book  ## what students get: dist/student-bundle/ and dist/student-bundle.zip (book, exercises, wheel)
	$(BIN)/python -m scripts.make_bundle

gpu-check:  ## on a GPU machine: train ex06/ex07, time to threshold, CPU/GPU ratio, GPU->CPU grading (OUT=dir)
	$(or $(wildcard $(BIN)/python),python3) -m scripts.gpu_check --out $(or $(OUT),_build/gpu-check)

lint: $(BIN)/.installed
	$(BIN)/ruff check rnncourse autograder rnngrade tests scripts

clean:
	rm -rf _build grading dist
