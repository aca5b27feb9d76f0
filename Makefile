# unionevents — two commands: `make run` (set up and serve) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_WORKERS ?= auto
export FLASK_APP := app

.PHONY: run test test-sqlite lint audit ops-deps bench babel translations migrate seed browser-deps clean

# The venv is rebuilt whenever a requirements file changes.
$(VENV)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

translations: $(VENV)/.runtime
	$(BIN)/pybabel compile -d translations

migrate: $(VENV)/.runtime
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask seed-demo

run: translations seed
	@$(BIN)/python -c "from unionevents.demo import print_demo_logins; print_demo_logins()"
	@echo "Serving on http://$(HOST):$(PORT)/"
	$(BIN)/flask run --host $(HOST) --port $(PORT)

browser-deps:
	scripts/ensure-browser.sh

# nginx, pgbouncer, systemd-analyze, openssl for tests/deploy.
ops-deps:
	scripts/ensure-ops-tools.sh

# Static checks, run first by `make test` (so by CI): ruff (rule set in pyproject.toml) and mypy
# (gradual: see docs/code-health.md).
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/mypy

# Known vulnerabilities in the pinned requirements.  Needs the network (PyPI's JSON API): not part
# of `make test`.  --strict fails when a package could not be looked up, so an offline run never
# reads as a pass.
AUDIT_VENV := .venv-audit
$(AUDIT_VENV)/.installed: requirements-audit.txt
	test -x $(AUDIT_VENV)/bin/python || $(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install -q -r requirements-audit.txt
	touch $@

audit: $(AUDIT_VENV)/.installed
	$(AUDIT_VENV)/bin/pip-audit --strict --no-deps --disable-pip --progress-spinner off \
		-r requirements.txt -r requirements-dev.txt

# Every test, in parallel, on SQLite — or on the database in TEST_DATABASE_URL when it is set.
# --dist loadgroup: the live tier (tests/live) starts each real server in one pytest worker only.
test: lint $(VENV)/.dev translations browser-deps ops-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -p no:cacheprovider $(PYTEST_ARGS)

bench: $(VENV)/.dev translations
	$(BIN)/python -m bench
	HYPOTHESIS_PROFILE=full $(BIN)/python -m pytest -q -n 2 tests/hardening

# Extract messages, update the catalogs, compile them.
babel: $(VENV)/.runtime
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs ".* __pycache__" -o translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d translations

clean:
	rm -rf $(VENV) $(AUDIT_VENV) .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
