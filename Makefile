# Two entry points: `make run` (the demo on SQLite) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run serve test install lint demo-env clean

DEMO_WEB ?= $(BIN)/python manage.py runserver 127.0.0.1:8000 --noreload
DEMO_WORKER ?= $(BIN)/python manage.py qcluster
STOP_GRACE ?= 10
SERVE = $(BIN)/python -m config.supervisor --grace $(STOP_GRACE) --web "$(DEMO_WEB)" --worker "$(DEMO_WORKER)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The demo: SQLite, test payments, a task worker beside the web server.
run: export DEBUG = True
run: export PAYMENTS_PROVIDER = test
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py sync_schedules
	@echo ""
	@echo "  Open http://127.0.0.1:8000  and log in as demo@example.com / demo"
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

# The whole suite; on PostgreSQL when DATABASE_URL is set, else SQLite.
test: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.test_settings >/dev/null
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles
