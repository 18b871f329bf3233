# The two commands of the README's quick start are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n auto
# The second pass of `make test`: the suite again, every store on this PostgreSQL server.
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: run test lint install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@ $(VENV)/.installed

# axe-core for the accessibility checks in the browser tests; skipped (tests skip) without npm.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the axe-core accessibility checks will skip"; fi

install: $(VENV)/.installed

## Run the main job on the embedded defaults: collect, build, send to the outbox.
run: $(VENV)/.installed
	$(BIN)/digest run

lint: $(VENV)/.installed-test node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy digest

## Lint, type-check and run the whole test suite on SQLite, then on PostgreSQL when it answers.
test: lint
	$(BIN)/pytest $(PYTEST_ARGS)
	@if $(BIN)/python -m tests.databases "$(TEST_POSTGRES_URL)" 2>/dev/null; then \
		DIGEST_TEST_DATABASE_URL="$(TEST_POSTGRES_URL)" $(BIN)/pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then $(BIN)/python -m tests.databases "$(TEST_POSTGRES_URL)"; exit 1; \
	else echo "skipped the PostgreSQL pass: nothing answers at $(TEST_POSTGRES_URL)"; fi

bench: $(VENV)/.installed-test
	$(BIN)/python bench/quality.py ../shared/data/bbc-news-dev.jsonl

## Screenshots of the sample issue at 375 and 800 px, and in dark mode, into docs/screenshots/ (needs /usr/bin/chromium).
screenshots: $(VENV)/.installed-test
	$(BIN)/python scripts/screenshots.py docs/screenshots

## A screenshot of the editors' desk on the sample project into docs/screenshots/desk.png.
desk-screenshot: $(VENV)/.installed-test
	$(BIN)/python scripts/desk_screenshot.py

clean:
	rm -rf $(VENV) digest.db digest.db-wal digest.db-shm outbox build .mypy_cache .ruff_cache .pytest_cache
