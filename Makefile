# cdpadmin: `make run` starts everything on this machine, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 8099
SANDBOX_STATE ?= var/infobip-sandbox-state.json
PYTEST_ARGS ?= --create-db -n 2

.PHONY: run test lint format venv env db migrate demo bench clean help sandbox-reset

help:
	@echo "make run   - install, migrate, create the demo realm/admin/API key, start sandbox + worker + web"
	@echo "make test  - install and run the whole suite on PostgreSQL (and Debian's chromium)"
	@echo "make lint  - ruff check, ruff format --check, the import layers, makemigrations --check"
	@echo "make sandbox-reset - empty the Infobip sandbox (running or not) and its state file $(SANDBOX_STATE)"

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

env:
	@$(PYTHON) scripts/ensure_env.py .env

db: $(STAMP) env
	@source scripts/ensure_postgres.sh && $(PY) manage.py ensure_database

migrate: db
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py bootstrap_demo --sandbox-url http://127.0.0.1:$(SANDBOX_PORT) --host $(HOST) --port $(PORT)

run: demo
	$(PY) manage.py runstack --host $(HOST) --port $(PORT) --sandbox-port $(SANDBOX_PORT) \
		--sandbox-state-file $(SANDBOX_STATE)

sandbox-reset: $(STAMP)
	$(PY) manage.py sandbox_reset --url http://127.0.0.1:$(SANDBOX_PORT) --state-file $(SANDBOX_STATE)

test: $(STAMP)
	@bash scripts/ensure_chromium.sh
	@source scripts/ensure_postgres.sh && $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/layers.py
	@source scripts/ensure_postgres.sh && $(PY) manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var/pgtest
