# The two commands of the README: `make book` builds the book, `make test` runs the tests.
# Both create the pinned environment in .venv on first use (Python 3.11).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CODE   := src tests instructor benchmarks book/_ext
FAST   := not notebook and not kernel and not slow and not book

.PHONY: book pdf execute test test-fast lint coverage requirements env clean

env: $(STAMP)

# The version in __init__.py is recorded by the editable install: reinstall when it moves.
$(STAMP): requirements.txt pyproject.toml src/course_utils/__init__.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "make: '$(PYTHON)' was not found. The course needs Python 3.11 with its venv module:"; \
	  echo "  Debian/Ubuntu: sudo apt-get install python3.11 python3.11-venv"; \
	  echo "  macOS: brew install python@3.11    anywhere: pyenv install 3.11"; \
	  echo "or name an interpreter: make $(MAKECMDGOALS) PYTHON=/path/to/python3.11"; exit 1; } >&2
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	  echo "make: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'),"; \
	  echo "but requirements.txt is pinned for 3.11: PYTHON=/path/to/python3.11 make $(MAKECMDGOALS)"; exit 1; } >&2
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "make: $(PYTHON) has no venv module. Debian/Ubuntu: sudo apt-get install python3.11-venv"; \
	  exit 1; } >&2
	@echo "Creating $(VENV) from requirements.txt: about 190 packages, 2.8 GB on disk; the first"
	@echo "install takes a few minutes (pip lists each package as it goes)."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	@# notebook-aware `git diff` and merges (nbdime), for this clone only
	@if git rev-parse --git-dir >/dev/null 2>&1; then $(BIN)/nbdime config-git --enable >/dev/null; fi
	touch $(STAMP)

# Renders the book from the notebooks' saved outputs (well under a minute) and fails on any Sphinx
# warning. The outputs come from `make execute`; a test checks that they match the current code.
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html"

# The whole book as one PDF, without LaTeX: Sphinx's one-page HTML of the book, printed by headless
# Chromium (Debian's `chromium`; CI installs it) with the print styles of book/_static/course.css.
# About 30 s: _build/pdf/book.pdf.
pdf: $(STAMP)
	$(BIN)/jupyter-book build . --builder singlehtml --warningiserror --keep-going
	$(BIN)/python book/_ext/pdf.py _build/singlehtml/book/intro.html _build/pdf/book.pdf

# Executes every chapter top to bottom in a fresh kernel, saves its outputs with a stamp, and
# regenerates book/execution_stats.md (wall time and peak memory against the budget).
# One chapter: `make execute NB=book/ch01_gradients.ipynb`.
execute: $(STAMP)
	$(BIN)/python benchmarks/notebooks.py --write $(NB)

# Everything: unit tests, the grader on real kernels, the chapters' proofs, every notebook under
# nbval, and the checks of the built pages (build them first with `make book`).
test: $(STAMP)
	$(BIN)/python -m pytest

# The contributor's loop: everything but notebooks, kernels, slow proofs and the built pages.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "$(FAST)" -q

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

# Line and branch coverage of course_utils by the tests that run in this process (kernels are
# separate processes and are not measured).
coverage: $(STAMP)
	$(BIN)/coverage run -m pytest -m "not notebook and not book" -q
	$(BIN)/coverage report

# Re-pin requirements.txt after editing requirements.in (keeps existing pins where it can).
requirements: $(STAMP)
	$(BIN)/uv pip compile requirements.in -o requirements.txt --python-version 3.11

clean:
	rm -rf _build .coverage
