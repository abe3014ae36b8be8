# Two commands do all set-up on a fresh machine:
#   make demo   -> creates .venv if missing, installs minirec, trains and recommends
#   make test   -> creates .venv if missing, installs minirec[dev,spark], runs the tests
# The course as a website (book/README.md): make book-quick (lessons in quick mode, what
# CI runs) or make book (full size); both check the site in headless Chromium after.
# MINIREC_DATA=/path/to/data (a folder holding ml-100k/, ml-1m/, ...) makes the demo
# use MovieLens 100K and lets the tests check the real files.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint bench notebooks lessons clean book book-quick book-check browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev,spark]"
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e ".[dev,bench]"
	touch $@

$(VENV)/.installed-book: pyproject.toml | $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e ".[dev,spark,book]"
	touch $@

# Debian's Chromium and its WebDriver for the browser check; skipped when present
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	else SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; fi

book: $(VENV)/.installed-book browser
	$(BIN)/python book/build.py --full
	$(MAKE) book-check

book-quick: $(VENV)/.installed-book browser
	$(BIN)/python book/build.py
	$(MAKE) book-check

book-check: $(VENV)/.installed-book browser
	MINIREC_BOOK_CHECK=1 $(BIN)/python -m pytest -q -m book tests/test_book.py

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
	rm -rf $(VENV) .pytest_cache .hypothesis lessons/_build book/_build book/lessons \
	  book/results book/_autosummary
