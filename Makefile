# The two commands: `make run` (set up and start the platform) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PYTHONUTF8 := 1

.PHONY: run test setup venv deps dev-deps migrate seed translations lint format bench clean worker web

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs are skipped when the requirement files have not changed since the last one.
$(VENV)/.deps-stamp: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps-stamp: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.deps-stamp

deps: $(VENV)/.deps-stamp
dev-deps: $(VENV)/.dev-deps-stamp

translations: deps
	$(BIN)/python manage.py compiletranslations

setup: deps translations
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py import_questions
	$(BIN)/python manage.py load_curated_bank
	$(BIN)/python manage.py setup_demo

run: setup
	@scripts/run-dev.sh

test: dev-deps
	$(BIN)/python manage.py compiletranslations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: dev-deps
	$(BIN)/python -m pytest benchmarks -p no:cacheprovider --benchmark-columns=min,mean,median,max,rounds $(PYTEST_ARGS)

clean:
	rm -rf var staticfiles .pytest_cache
