# Set-up and everyday commands. On a fresh machine: `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run serve test test-postgres lint migrate install install-dev translations translations-update browser bench-reliability bench clean

# Creates the virtualenv when requirements.txt changes (or the venv is missing): the runtime only, as on a
# production server. The test, lint and benchmark tools (requirements-dev.txt) come on top for `make test`.
$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.installed-dev: requirements-dev.txt $(BIN)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

## Patient pages in Spanish: compile each catalogue (.po, checked in) to the .mo the app reads (gitignored).
## Fuzzy entries are left out, so an unreviewed change shows in English rather than wrongly.
TRANSLATIONS := app/translations
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
translations: $(CATALOGUES:.po=.mo)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -d $(TRANSLATIONS) -l $*

## After changing patient-facing text: extract every message into messages.pot and merge it into each
## catalogue. Then translate the new and fuzzy entries in the .po files (tests/test_translations.py checks).
translations-update: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k lazy_gettext --sort-output --add-location file \
		--project "MILD self-screen" --copyright-holder "MILD self-screen" -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --width 100

## Apply migrations to the database (SQLite under instance/ unless DATABASE_URL is set).
migrate: install
	$(BIN)/flask db upgrade

## Install, migrate and serve on http://127.0.0.1:$(PORT), with the worker that sends emails and texts
## (honcho runs both from the Procfile; Ctrl-C stops both).
run: migrate translations
	$(BIN)/honcho start --procfile Procfile --port $(PORT)

## Install, migrate and serve with gunicorn (gunicorn.conf.py; FLASK_CONFIG etc. from the environment) and the
## worker. Local try-out: FLASK_CONFIG=development make serve   (http://127.0.0.1:8000, or SERVE_PORT)
SERVE_PORT ?= 8000
serve: migrate translations
	$(BIN)/honcho start --procfile Procfile.serve --port $(SERVE_PORT)

## Debian's Chromium for the real-browser tests (tests/browser/; Playwright drives it, no browser download).
## Installed with apt-get when missing; without root the tests say so and skip (REQUIRE_BROWSER=1 fails them).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "make browser: apt-get install chromium failed: the browser tests will be skipped"; \
	else echo "make browser: /usr/bin/chromium is missing and apt-get cannot run here (needs root):" \
		"the browser tests will be skipped. Install it with: sudo apt-get install chromium"; fi

## The whole test suite (the browser tests included), then the linters: ruff, and import-linter's contracts
## (pyproject.toml: no Flask in the core packages).
test: install-dev translations browser
	$(BIN)/python -m pytest
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## The whole test suite against a throwaway PostgreSQL server (started and stopped by the script).
test-postgres: install-dev translations browser
	scripts/with-postgres.sh $(BIN)/python -m pytest

## Load-and-crash reliability run (issue 5, BENCHMARKS.md): patients submit through gunicorn while the whole
## server is SIGKILLed and restarted; every acknowledged request must be stored exactly once, no 5xx.
## SQLite, then PostgreSQL (scripts/with-postgres.sh). Figures also as JSON in instance/.
BENCH_ARGS ?= --submissions 5000 --clients 64 --kills 3 --workers 4
bench-reliability: install-dev
	$(BIN)/python -m bench.submit_load --database sqlite $(BENCH_ARGS) --json instance/reliability-sqlite.json
	scripts/with-postgres.sh $(BIN)/python -m bench.submit_load --database postgres $(BENCH_ARGS) \
		--json instance/reliability-postgres.json

## Performance bench (issue 7, BENCHMARKS.md): the app and a hello-world baseline (bench/hello.py), each under
## gunicorn.conf.py with 2 workers as make serve, loaded by wrk (Debian's package, installed with apt-get when
## missing); the queue and CSV export at 10,000 and 1,000,000 requests (bench/seed.py); page weights; the rules
## module with pytest-benchmark. SQLite; BENCH_DATABASE=postgres runs it on a throwaway PostgreSQL server
## (scripts/with-postgres.sh). Prints figure, target and holds; also writes instance/bench-$(BENCH_DATABASE).json.
## Smaller and quicker: BENCH_PERF_ARGS="--sizes 1000,10000 --seconds 5 --staff-seconds 5"
BENCH_DATABASE ?= sqlite
BENCH_PERF_ARGS ?=
bench: install-dev translations
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "make bench: wrk is missing and apt-get cannot run here; sudo apt-get install wrk"; exit 1; }
	$(if $(filter postgres,$(BENCH_DATABASE)),scripts/with-postgres.sh )$(BIN)/python -m bench.perf \
		--database $(BENCH_DATABASE) --json instance/bench-$(BENCH_DATABASE).json $(BENCH_PERF_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
