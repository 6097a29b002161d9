# Refuge. Quick start: `make run` (serve on http://127.0.0.1:$PORT, 5000 unless set), `make test` (whole suite).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMPS := .make
export PATH := $(BIN):$(PATH)
export FLASK_APP := intake

.PHONY: run test lint bench bench-quick install vendor translations services chromium migrate directory \
        format clean backup

## Build steps: each reruns only when its inputs changed, so a second `make run` is quick.
$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# vendor.mjs also writes the gzip copies of the app's own styles and scripts: rerun on any change.
APP_ASSETS := $(wildcard intake/static/css/*.css intake/static/js/*.js)
intake/static/vendor/manifest.json: node_modules/.package-lock.json scripts/vendor.mjs $(APP_ASSETS)
	node scripts/vendor.mjs

install: $(STAMPS)/venv
vendor: intake/static/vendor/manifest.json

translations: $(STAMPS)/venv
	@$(BIN)/python scripts/compile_translations.py

## After adding or changing a _() string: each area's catalogue gets it, with its source location.
.PHONY: translations-extract
translations-extract: $(STAMPS)/venv
	$(BIN)/python scripts/extract_translations.py

migrate: install
	flask --app intake db upgrade

directory: migrate
	flask --app intake directory import

## Start PostgreSQL and Redis if this machine has them but they are stopped.
services:
	@bash scripts/ensure-services.sh

## Debian's Chromium for the browser tests (browsers cannot be downloaded by Playwright here).
chromium:
	@bash scripts/ensure-chromium.sh

## The address printed is the one gunicorn binds (BIND_HOST, PORT: config/address.py). Without
## PUBLIC_BASE_URL, every process gets that address for its links: honcho gives the worker and
## beat their own PORT (5100, 5200), which must not end up in e-mails.
run: install vendor translations directory
	@served="$$(python -m config.address)"; \
	export PUBLIC_BASE_URL="$${PUBLIC_BASE_URL:-$$served}"; \
	setup="$$(flask --app intake setup-token)"; \
	echo "$$setup"; \
	echo "Refuge on $$served (web + worker + beat; Ctrl-C stops all)"; \
	python scripts/say-when-ready.py "$$served" "Refuge is ready on $$served." "$$setup" & \
	exec honcho start -f Procfile

test: install vendor translations services chromium
	@bash scripts/run-tests.sh

## A database dump (pg_dump -Fc or sqlite3 .backup) and the audit anchor, into backups/.
backup:
	@bash scripts/backup.sh

lint: install node_modules/.package-lock.json
	node_modules/.bin/eslint intake/static/js scripts eslint.config.mjs
	ruff check .
	ruff format --check .
	mypy

format: install
	ruff format .
	ruff check --fix .

bench: install vendor services
	@bash scripts/run-benchmarks.sh

# Issue 14's ratios at 100k on PostgreSQL/Redis's standard ports -> bench/results/ratios.json
bench-quick: install vendor services
	@bash scripts/run-benchmarks.sh quick

clean:
	rm -rf $(STAMPS) $(VENV) node_modules intake/static/vendor .pytest_cache .mypy_cache .ruff_cache
	rm -f intake/static/css/*.gz intake/static/js/*.gz
