# conclab: every command a reader or CI needs. Works on a bare Debian with python3 (no conda).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.conclab-installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# Per-cell limit for nbval; pytest-timeout (pyproject.toml) bounds every test item as well.
CELL_TIMEOUT ?= 180
# What `make test` (and each run of `make stress`) selects: the browser checks have targets
# of their own.
TEST_MARKS := not browser and not lab
# How many times `make stress` runs the package tests (the chapters run twice).
N ?= 20
# Jupyter refuses to run as root unless told; containers often run as root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab test test-book test-lab stress book bench strip check-clean clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[test,book]"
	touch $(STAMP)

lab: setup
	$(BIN)/jupyter lab $(LAB_ARGS) notebooks/

test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -m "$(TEST_MARKS)" tests $(NOTEBOOKS) \
		--nbval-lax --nbval-cell-timeout=$(CELL_TIMEOUT)

book: setup
	$(BIN)/python scripts/vendor_widgets.py
	$(BIN)/jupyter-book build notebooks

test-book: book
	$(BIN)/python -m pytest -rs tests/test_book.py

# The chapters in a real JupyterLab driven by Chromium (tests/test_lab.py; needs Debian's
# chromium). -rA prints each chapter's timed steps; screenshots of failures: build/lab/.
test-lab: setup
	$(BIN)/python -m pytest -m lab -rA --durations=0 tests/test_lab.py

# The package tests N times and the chapters twice, each run under another switch interval
# and start method; prints failures per test with the knobs of each failing run. CI: N=2.
stress: setup
	$(BIN)/python scripts/stress.py --runs $(N) --marks "$(TEST_MARKS)" \
		--cell-timeout $(CELL_TIMEOUT) $(NOTEBOOKS)

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m conclab.bench

strip: setup
	$(BIN)/nbstripout --keep-id --extra-keys "metadata.widgets cell.metadata.execution" notebooks/*.ipynb

clean:
	rm -rf notebooks/_build notebooks/_vendor
