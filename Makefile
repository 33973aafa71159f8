# Shuibao — two commands on a fresh machine (Python 3.11, pip, make, gcc):
#   make demo   set up .venv, install, run the workflow on the embedded demo district
#   make test   set up .venv if missing, run lint + snakemake --lint + the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/demo.yaml
CORES ?= 2
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint format env clean dag report

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

demo: env
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --rerun-triggers mtime params input code
	@echo
	@echo "Reports: $$(ls -1 results/*/*/report.html 2>/dev/null | tr '\n' ' ')"

test: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakemake --lint --configfile tests/configs/small.yaml
	$(BIN)/python -m pytest $(PYTEST_ARGS) --nbmake tests notebooks
	# docstring examples (pipeline/scripts/ are Snakemake scripts, not importable modules)
	$(BIN)/python -m pytest $(PYTEST_ARGS) --doctest-modules pipeline --ignore=pipeline/scripts

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakemake --lint --configfile tests/configs/small.yaml

format: env
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

dag: env
	$(BIN)/snakemake --configfile $(CONFIG) --dag | dot -Tsvg > dag.svg

report: env
	$(BIN)/snakemake --configfile $(CONFIG) --report results/report.zip

clean:
	rm -rf results resources logs .snakemake
