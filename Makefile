# Starling: `make run` starts the whole site, `make test` runs the whole suite,
# `make test-fast` the suite without the browser and slow (subprocess, crawl, training) tests.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast install migrate superuser lint format bench clean

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "Starling needs $(PYTHON) on PATH (set PYTHON=/path/to/python3.11)."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

# First run: install, migrate, starter brands; then embedded Redis + RQ worker + Daphne. Ctrl-C stops all.
run: migrate
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py load_brands --if-empty
	$(PY) manage.py runstack

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

test-fast: install
	$(PY) -m ruff check .
	$(PY) -m pytest -m "not browser and not slow"

superuser: migrate
	$(PY) manage.py createsuperuser

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
