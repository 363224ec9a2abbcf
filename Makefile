# The two commands: `make run` and `make test`. Both set everything up first and are
# cheap when it is already set up (the install is redone only when pyproject.toml changes).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.caselens-installed
HOST   ?= 127.0.0.1
PORT   ?= 8501
export CASELENS_DATA_DIR ?= $(CURDIR)/.caselens-data

.PHONY: run test lint bench samples system-deps clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found). Set PYTHON=/path/to/python3.11."; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Debian packages the test suite uses: Chromium for the browser tests, PostgreSQL for the
# audit store tests, nginx for the reverse-proxy test (deploy/nginx), pango for WeasyPrint
# (the PDF case report). Installed when missing
# and we may (root with apt-get); in CI a missing one is a failure, reported by the tests.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || missing="$$missing nginx"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Not installed:$$missing (needs root and apt-get); those tests will be skipped locally."; \
	  fi; \
	fi

run: $(STAMP)
	@$(BIN)/caselens users seed-demo
	@# One clearly labelled simulated history, so the Monitoring page has something to show.
	@$(BIN)/caselens monitor simulate --model readmission-30d --months 6 --per-month 1000 \
		--shift calibration@5 --unless-present
	@echo "CaseLens is starting at http://$(HOST):$(PORT)  (Ctrl+C to stop; demo accounts are listed on the sign-in page; commands: $(BIN)/caselens --help)"
	CASELENS_DEMO=1 $(BIN)/streamlit run app/serve.py --server.address $(HOST) \
		--server.port $(PORT) --server.headless true --browser.gatherUsageStats false

# The gate: lint (ruff check and ruff format --check) first, then the whole suite on
# TEST_WORKERS processes (pytest-xdist; 0 = one process). The schedule is tests/conftest.py's:
# the browser folder whole on one worker, started first (one shared server and Chromium),
# every other file on whichever worker is free, never split (module-scoped fixtures start
# once). Each worker has its own temp folders and PostgreSQL. Much of the browser time is
# waiting on Streamlit and Chromium, which the other worker fills.
TEST_WORKERS ?= 2
test: lint system-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check src app tests tools
	$(BIN)/ruff format --check src app tests tools
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/caselens bench reports
	$(BIN)/caselens bench audit
	$(BIN)/caselens bench app

samples: $(STAMP)
	$(BIN)/caselens samples build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
