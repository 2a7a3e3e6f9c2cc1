# dl1-kit: every target makes the virtual environment on first use.
# The newest supported Python found (each has binary wheels for every requirement: .ci/run checks
# them with tools/check_wheels.py). Each candidate is run, not just looked up, because pyenv puts a
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
# `make lesson1 EDITION=ja` (and `make notes EDITION=ja`) runs the Japanese edition, nbs/ja/, into build/ja/.
EDITION := en

.PHONY: $(LESSONS) notes sync check test bench bench-suite doctor clean

$(STAMP): pyproject.toml $(wildcard requirements*.txt)
	@if [ -x $(PY) ]; then echo "dl1-kit: installing into $(VENV), which has $$($(PY) -V)"; \
	elif [ -z "$(PYTHON)" ]; then echo "$(NEEDS): $(SUPPORTED:%=python%) do not run here, and" \
	  "python3 is $$(python3 -V 2>/dev/null || echo missing). Install one (python.org, Homebrew," \
	  "apt, pyenv), or name it: make PYTHON=/path/to/python3.12"; exit 1; \
	else $(PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(None if v in "$(SUPPORTED)".split() else f"$(NEEDS); {sys.executable} is Python {v}")' && \
	  echo "dl1-kit: making $(VENV) with $$($(PYTHON) -V) ($(PYTHON))" && $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[notebooks,dev]"
	touch $(STAMP)

$(LESSONS): $(STAMP)
	$(PY) -m utils.runner $@ --edition $(EDITION) $(PARAMS)

notes: $(STAMP)
	$(PY) -m utils.runner notes --edition $(EDITION) $(PARAMS)

# `make sync`: the cells the notes mark `#| export` -> utils/lessons/lessonN.py (generated; never edit them),
# and the Japanese edition: nbs/lessonN.ipynb + nbs/ja/po/lessonN.po -> nbs/ja/lessonN.ipynb.
sync: $(STAMP)
	$(PY) -m tools.sync
	$(PY) -m tools.translate

# Tests import the kit as installed: -P keeps the current folder off sys.path, so a broken install fails.
# `make check`: lint and every test but those marked `notebook` (lesson notebooks, claims rows).
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -P -m pytest -q -n auto -m "not notebook"

# `make test` (CI runs it): lint and everything.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -P -m pytest -q -n auto --durations=15

bench: $(STAMP)
	@for name in $(basename $(notdir $(wildcard bench/bench_*.py))) gpu_throughput; do \
	  $(PY) -m bench.$$name || exit 1; done

# Times `make test` (venv included, pip's cache off) and then `make check` in a fresh clone of HEAD.
bench-suite: $(STAMP)
	$(PY) -m bench.suite

doctor: $(STAMP)
	@TF_CPP_MIN_LOG_LEVEL=3 $(PY) -c 'from utils.env import doctor; doctor()'

clean:
	rm -rf build
