# One-command workflows. Needs only Python 3.11 on the PATH (python3.11 or python3).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 5000
HOST   ?= 127.0.0.1

.PHONY: run test install install-dev init-db check-config bench bench-live profile clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, create .env from .env.example if there is none, serve on $(HOST):$(PORT)
## (embedded SQLite unless DATABASE_URL is set; dry-run unless EXECUTION_DRY_RUN=false).
run: install
	@[ -f .env ] || { cp .env.example .env && echo "Created .env from .env.example (dry-run, SQLite)."; }
	$(VENV)/bin/flask --app web_server init-db
	$(VENV)/bin/gunicorn 'web_server:create_app()' -c gunicorn.conf.py --bind $(HOST):$(PORT) --workers 2 --threads 4 --access-logfile -

## make test: install dev tools and run the whole suite (PostgreSQL at TEST_DATABASE_URL,
## default postgresql://postgres@127.0.0.1:5432/test, is required: tests fail if it is unreachable).
test: install-dev
	@bash tools/ensure_chromium.sh
	$(PY) -m pytest -q

## make bench: gunicorn + PostgreSQL load test of the webhook against the floor (Flask + psycopg, one insert)
## (needs wrk: apt-get install -y wrk). BENCH_DATABASE_URL (default: the local `test` database)
## is EMPTIED first. Options: make bench BENCH_ARGS="--duration 10 --levels 1,16,64 --mode mix".
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
bench: install-dev
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/run_bench.py $(BENCH_ARGS)

## make bench-live: the live path's own overhead per order against the simulator (zero latency), 1-30
## accounts over FTMO, APEX, TOPSTEP, at c=1 and c=16. BENCH_DATABASE_URL is EMPTIED first.
bench-live: install-dev
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.live_overhead $(BENCH_LIVE_ARGS)

## make profile: SQL round trips/commits per request and a pyinstrument profile (bench-results/).
profile: install-dev
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.profile_pipeline --profile $(BENCH_ARGS)

init-db: install
	$(VENV)/bin/flask --app web_server init-db

check-config: install
	$(VENV)/bin/flask --app web_server check-config

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
