# dl1-kit: every target makes the virtual environment on first use.
# The newest supported Python found (each has binary wheels for every requirement: .ci/run checks
# them with setup/check_wheels.py). Each candidate is run, not just looked up, because pyenv puts a
# shim on PATH for every installed version, also those that are not switched on.
SUPPORTED := 3.13 3.12 3.11
NEEDS := dl1-kit needs Python 3.11, 3.12 or 3.13
ifndef PYTHON
PYTHON := $(shell for p in $(SUPPORTED:%=python%) python3; do \
	$$p -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] not in "$(SUPPORTED)".split())' \
	2>/dev/null && command -v $$p && break; done)
endif
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
LESSONS := lesson1 lesson2 lesson3 lesson4 lesson5 lesson6 lesson7
# `make lesson1 DATA=full` passes the data mode into the notebook's parameters cell.
PARAMS := $(if $(DATA),-p DATA=$(DATA))

.PHONY: $(LESSONS) notes test bench doctor clean

$(STAMP): $(wildcard requirements*.txt)
	@if [ -x $(PY) ]; then echo "dl1-kit: installing into $(VENV), which has $$($(PY) -V)"; \
	elif [ -z "$(PYTHON)" ]; then echo "$(NEEDS): $(SUPPORTED:%=python%) do not run here, and" \
	  "python3 is $$(python3 -V 2>/dev/null || echo missing). Install one (python.org, Homebrew," \
	  "apt, pyenv), or name it: make PYTHON=/path/to/python3.12"; exit 1; \
	else $(PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(None if v in "$(SUPPORTED)".split() else f"$(NEEDS); {sys.executable} is Python {v}")' && \
	  echo "dl1-kit: making $(VENV) with $$($(PYTHON) -V) ($(PYTHON))" && $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(LESSONS): $(STAMP)
	$(PY) -m utils.runner $@ $(PARAMS)

notes: $(STAMP)
	$(PY) -m utils.runner notes $(PARAMS)

test: $(STAMP)
	$(PY) -m pytest -q --durations=15 tests

bench: $(STAMP)
	@for script in bench/bench_*.py bench/gpu_throughput.py; do $(PY) $$script || exit 1; done

doctor: $(STAMP)
	@TF_CPP_MIN_LOG_LEVEL=3 $(PY) -c 'from utils.env import doctor; doctor()'

clean:
	rm -rf build
