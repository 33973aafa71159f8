# Shuibao — two commands on a fresh machine (Python 3.11, pip, make, gcc):
#   make demo   set up .venv, install, run the workflow on the embedded demo district
#   make test   set up .venv if missing, run lint + snakemake --lint + the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/demo.yaml
CORES ?= 2
# --dist loadfile: a module runs on one worker, so its module-scoped workflow run happens once
PYTEST_ARGS ?= -n 2 --dist loadfile
# Exact versions (with hashes) of every runtime and test dependency, Linux / Python 3.11.
LOCK ?= requirements/lock-linux-py311.txt
PROFILE ?= profiles/default

.PHONY: demo test lint format env lock clean dag report example-data

env: $(VENV)/.installed

# The locked versions first, then Shuibao itself without resolving anything again.
$(VENV)/.installed: pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# byte-compile Shuibao itself (pip does it for site-packages, not for an editable install):
	# each workflow job then imports it without compiling (~0.2 s of CPU per job, ~35 jobs),
	# also where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/python -m compileall -q pipeline
	# compile the numba kernels once (about a minute of CPU), not inside the first run's jobs
	$(BIN)/python -m pipeline.stages.warmup
	@touch $@

# Regenerate the lock file from pyproject.toml (keeps current pins; UPGRADE=1 takes the newest).
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv>=0.5"
	$(BIN)/uv pip compile --quiet --native-tls pyproject.toml --extra test --python-version 3.11 \
		--python-platform linux --generate-hashes --custom-compile-command "make lock" \
		$(if $(UPGRADE),--upgrade) -o $(LOCK)

# Through `shuibao run`: it validates the config first (a YAML syntax error is named with file
# and line; Snakemake itself parses --configfile before the workflow and says only "not valid").
demo: env
	$(BIN)/shuibao run --configfile $(CONFIG) --cores $(CORES) --workflow-profile $(PROFILE)
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

# The real example data (Youwuzhen, Fujian; Gura, Kenya), from their public origin, checked by SHA-256.
example-data: env
	$(BIN)/python -m pipeline.example_data youwuzhen --dest data/examples/youwuzhen
	$(BIN)/python -m pipeline.example_data gura --dest data/examples/gura

clean:
	rm -rf results resources logs .snakemake
