# Set-up and everyday commands. On a fresh machine: `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test lint migrate install clean

# Creates the virtualenv when requirements.txt changes (or the venv is missing).
$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(BIN)/.installed

## Apply migrations to the database (SQLite under instance/ unless DATABASE_URL is set).
migrate: install
	$(BIN)/flask db upgrade

## Install, migrate and serve on http://127.0.0.1:$(PORT)
run: migrate
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

## The whole test suite, then the linter.
test: install
	$(BIN)/python -m pytest
	$(BIN)/ruff check .

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
