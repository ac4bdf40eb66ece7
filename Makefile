PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest screenshots bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/factsync demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core store
	$(BIN)/pytest

screenshots: $(STAMP)
	$(BIN)/python scripts/export_screenshots.py

bench: $(STAMP)
	$(BIN)/python bench/fetch_roster.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/writeback.py
	$(BIN)/python bench/grid.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
