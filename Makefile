# dl1-kit: every target makes the virtual environment on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
LESSONS := lesson1 lesson2 lesson3 lesson4 lesson5 lesson6 lesson7
# `make lesson1 DATA=full` passes the data mode into the notebook's parameters cell.
PARAMS := $(if $(DATA),-p DATA=$(DATA))

.PHONY: $(LESSONS) notes test bench doctor clean

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "dl1-kit needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(LESSONS): $(STAMP)
	$(PY) -m utils.runner $@ $(PARAMS)

notes: $(STAMP)
	$(PY) -m utils.runner notes $(PARAMS)

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	@for script in bench/bench_*.py bench/gpu_throughput.py; do $(PY) $$script || exit 1; done

doctor: $(STAMP)
	@TF_CPP_MIN_LOG_LEVEL=3 $(PY) -c 'from utils.env import doctor; doctor()'

clean:
	rm -rf build
