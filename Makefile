# The two commands of the README:  `make book` builds the book, `make test` runs the tests.
# Both create the pinned environment in .venv on first use (Python 3.11).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test env clean

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Executes every notebook afresh and fails on any Sphinx warning.
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html"

# Unit tests of course_utils and the grader, then every notebook under nbval.
test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf _build
