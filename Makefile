# Two entry points: `make run` (the demo on SQLite) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

DEMO_ENV_MARK := The demo's settings, written by make run
# Where the demo serves; tests/docs/test_readme.py runs it on a free port.
DEMO_ADDR ?= 127.0.0.1:8000

.PHONY: run serve demo test test-fast install lock upgrade lint demo-env clean mutants

DEMO_WEB ?= $(BIN)/python manage.py runserver $(DEMO_ADDR) --noreload
DEMO_WORKER ?= $(BIN)/python manage.py qcluster
STOP_GRACE ?= 10
SERVE = $(BIN)/python -m config.supervisor --grace $(STOP_GRACE) --web "$(DEMO_WEB)" --worker "$(DEMO_WORKER)"

# The venv holds exactly requirements.lock (every package pinned, with its hashes; plain pip,
# no uv needed here), then the project itself without resolving anything. Made anew whenever
# the lock or pyproject.toml changes, so nothing lingers from an older lock.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The lock is compiled by uv, pinned, run from a throwaway venv: `make lock` after editing the
# dependencies in pyproject.toml (keeps every other pin), `make upgrade` to move every package
# to its newest allowed release; then the suite runs on what the new lock installs.
UV_VERSION := 0.13.8
LOCK_ARGS := pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock" -o requirements.lock

lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp" && "$$tmp/bin/pip" install --quiet uv==$(UV_VERSION) && \
	"$$tmp/bin/uv" pip compile --quiet $(LOCK_ARGS) $(LOCK_FLAGS)

upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade
	$(MAKE) test

# The demo's settings live in .env (from config/demo.env: SQLite, DEBUG, test payments),
# so the server, the worker and every manage.py command typed in this checkout agree.
# An .env that is not the demo's (a copy of .env.example) is left alone and refused.
demo-env:
	@if [ ! -f .env ]; then \
	  cp config/demo.env .env && echo "Wrote .env: the demo's settings (SQLite, DEBUG, test payments)"; \
	elif ! head -n 1 .env | grep -qF "$(DEMO_ENV_MARK)"; then \
	  echo "make run: .env here is not the demo's (a copy of .env.example?): it would switch" >&2; \
	  echo "the demo to its database and HTTPS settings. Move it away, or deploy as docs/deploy.md says." >&2; \
	  exit 1; \
	fi

# The demo's emails link where it serves: its SITE_URL follows DEMO_ADDR over the .env's
# (the environment wins over .env); a SITE_URL given to make wins over both.
run demo: export SITE_URL ?= http://$(DEMO_ADDR)

# The demo's database: migrated, seeded, schedules declared. Safe to repeat.
demo: install demo-env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py sync_schedules

# The demo: SQLite, test payments, a task worker beside the web server.
run: demo
	@echo ""
	@echo "  Open http://$(DEMO_ADDR)  and log in as demo@example.com / demo"
	@echo "  (member@example.com / demo sees the same org read only; /admin/ for staff)"
	@echo ""
	$(SERVE)

# Serve the demo already set up: the web server and a task worker until Ctrl-C or either
# ends; then both are stopped for sure (every process of each: TERM, then KILL after
# STOP_GRACE seconds), so no worker is left behind (config/supervisor.py).
serve: export DEBUG = True
serve: export PAYMENTS_PROVIDER = test
serve:
	$(SERVE)

# The whole suite; on PostgreSQL when DATABASE_URL is set, else SQLite. pytest-xdist runs
# it in PYTEST_WORKERS processes, each on its own test database (PYTEST_WORKERS=0: one):
# one more than the cores, whose waits (processes, the browser) the extra one fills; at
# most 8, the Redis databases the tests may take (docs/testing.md, "Parallel").
PYTEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min((os.cpu_count() or 1) + 1, 8))")
test: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.test_settings >/dev/null
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The inner loop: the suite without the system tests (processes, browser), in parallel;
# `make test-fast TESTS=tests/billing/ledger` narrows it to what you changed.
test-fast: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not system" $(TESTS) $(PYTEST_ARGS)

# Mutation testing of the money paths, on SQLite, one module at a time (slow: not part of
# `make test`; docs/testing.md). `make mutants MODULES=billing.money` runs some of them.
mutants: install
	$(BIN)/python tests/mutants.py $(MODULES)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles mutants
	@if [ -f .env ] && head -n 1 .env | grep -qF "$(DEMO_ENV_MARK)"; then rm .env; fi
