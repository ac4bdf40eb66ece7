PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest screenshots bench bench-quick clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/factsync demo

# the browser test drives Debian's chromium (Playwright's own browser download is not used)
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/mypy core store
	$(BIN)/lint-imports
	# two processes: most of the suite waits (subprocesses, servers, rate windows), not computes
	$(BIN)/pytest -n 2

screenshots: $(STAMP)
	$(BIN)/python scripts/export_screenshots.py

bench: $(STAMP)
	$(BIN)/python bench/fetch_roster.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/sync.py --families 20000
	$(BIN)/python bench/sync.py --families 50000 --history light
	$(BIN)/python bench/apply.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/writeback.py
	$(BIN)/python bench/grid.py
	$(BIN)/python bench/decisions.py
	$(BIN)/python bench/forget.py

# Issue 13's figures at 5,000 and 20,000 families in under two minutes (the 50,000-family ones
# are in `make bench`); every script runs, and the target exits 1 at the end if one missed.
bench-quick: $(STAMP)
	@status=0; \
	$(BIN)/python bench/startup.py --repeat 5 || status=1; \
	$(BIN)/python bench/apply.py --families 5000 20000 --repeat 2 || status=1; \
	$(BIN)/python bench/sync.py --families 5000 --decisions all --repeat 2 || status=1; \
	$(BIN)/python bench/sync.py --families 20000 --decisions all --repeat 2 --first-only || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
