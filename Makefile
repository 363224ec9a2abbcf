# The two commands: `make run` and `make test`. Both set everything up first and are
# cheap when it is already set up (the install is redone only when pyproject.toml changes).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.caselens-installed
HOST   ?= 127.0.0.1
PORT   ?= 8501
export CASELENS_DATA_DIR ?= $(CURDIR)/.caselens-data

.PHONY: run test lint bench samples clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found). Set PYTHON=/path/to/python3.11."; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	@echo "CaseLens is starting at http://$(HOST):$(PORT)  (Ctrl+C to stop)"
	$(BIN)/streamlit run app/streamlit_app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: $(STAMP)
	$(BIN)/ruff check src app tests
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src app tests
	$(BIN)/ruff format --check src app tests

bench: $(STAMP)
	$(BIN)/caselens bench

samples: $(STAMP)
	$(BIN)/caselens samples build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
