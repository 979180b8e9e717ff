# Two entry points: `make run` (the demo on SQLite) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lint demo-env clean mutants

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
	$(BIN)/python manage.py qcluster & QPID=$$!; \
	trap "kill $$QPID 2>/dev/null" EXIT INT TERM; \
	$(BIN)/python manage.py runserver 127.0.0.1:8000 --noreload

# The whole suite; on PostgreSQL when DATABASE_URL is set, else SQLite.
test: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.test_settings >/dev/null
	$(BIN)/pytest $(PYTEST_ARGS)

# Mutation testing of the money paths, on SQLite, one module at a time (slow: not part of
# `make test`; docs/testing.md). `make mutants MODULES=billing.money` runs some of them.
mutants: install
	$(BIN)/python tests/mutants.py $(MODULES)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles mutants
