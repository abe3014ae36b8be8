# Two commands do all set-up on a fresh machine:
#   make demo   -> creates .venv if missing, installs minirec, trains and recommends
#   make test   -> creates .venv if missing, installs minirec[dev,spark], runs the tests
# MINIREC_DATA=/path/to/data (a folder holding ml-100k/, ml-1m/, ...) makes the demo
# use MovieLens 100K and lets the tests check the real files.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint bench notebooks lessons clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev,spark]"
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e ".[dev,bench]"
	touch $@

demo: $(VENV)/.installed-dev
	$(BIN)/minirec demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check minirec tests benchmarks lessons
	$(BIN)/ruff format --check minirec tests benchmarks lessons

lessons: $(VENV)/.installed-dev
	$(BIN)/python lessons/run_all.py

notebooks: $(VENV)/.installed-dev
	$(BIN)/python lessons/build_notebooks.py

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis lessons/_build
