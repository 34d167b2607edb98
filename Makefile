# Two commands on a fresh machine (see README.md):
#   make book   build the book into _build/html (make book SITE=<name>: for sites/<name>/)
#   make test   run every test (installs the system components the tests need)
# Both create .venv on first use and reinstall only when requirements change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB_FLAGS := -W -n --keep-going
# The cluster the book is built for: a folder sites/<name>/ (default: course_site in _config.yml).
SITE ?=

.PHONY: book test lint system-deps pyz bench lock clean preview

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@# An optional part of jsonschema that compiles 38 grammars at every import (3.3 s in every
	@# Jupyter Server, notebook and book build): docs/decisions/0003-jsonschema-without-rfc3987-syntax.md
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	@touch $@

# A clean build every time: a second build into an old _build exits 0 even when a notebook
# still fails. The execution cache (_build/.jupyter_cache) is kept, so it stays quick.
book: $(STAMP)
	rm -rf _build/html _build/.doctrees _build/jupyter_execute
	COURSE_SITE=$(SITE) $(BIN)/jupyter-book build . $(JB_FLAGS) || { cat _build/html/reports/*.err.log 2>/dev/null; exit 1; }
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

# The book with live reload while you edit it (in-process rebuilds; bench/book_preview.py).
preview: $(STAMP)
	$(BIN)/python scripts/preview.py

pyz: $(STAMP)
	COURSE_SITE=$(SITE) $(BIN)/python scripts/build_pyz.py _build/html/selfcheck.pyz

system-deps:
	@scripts/system-deps.sh

# Lint and types first (seconds), then every test against the real components.
test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.in
	{ echo "# Pinned toolchain (generated from requirements.in by 'make lock'; do not edit by hand)."; \
	  $(BIN)/python -m pip freeze --exclude-editable --exclude rfc3987-syntax; } > requirements.txt

clean:
	rm -rf _build
