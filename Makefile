# Starling: `make run` starts the whole site, `make test` runs the whole suite,
# `make test-fast` the suite without the browser and slow (subprocess, crawl, training) tests.
PYTHON ?= python3.11
# Where `make run` listens: make run HOST=0.0.0.0 PORT=8001. HOST is taken from the command line only,
# because some shells export their machine's name as $HOST.
ifneq ($(origin HOST),command line)
HOST := 127.0.0.1
endif
PORT ?= 8000
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
	$(PY) manage.py runstack --host $(HOST) --port $(PORT)

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

test-fast: install
	$(PY) -m ruff check .
	$(PY) -m pytest -m "not browser and not slow"

# Asks for a name and a password; with DJANGO_SUPERUSER_PASSWORD set it asks nothing and takes
# DJANGO_SUPERUSER_USERNAME (and DJANGO_SUPERUSER_EMAIL, optional) from the environment too.
superuser: migrate
ifdef DJANGO_SUPERUSER_PASSWORD
	@test -n "$$DJANGO_SUPERUSER_USERNAME" || { echo "Set DJANGO_SUPERUSER_USERNAME too (the staff name to create)."; exit 1; }
	$(PY) manage.py createsuperuser --noinput $(if $(DJANGO_SUPERUSER_EMAIL),,--email "")
else
	$(PY) manage.py createsuperuser
endif

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
