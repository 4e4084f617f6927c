# sitekeeper — the two commands that matter: `make demo` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
# `make demo DEMO_BIND=127.0.0.1:8080` serves the demo on another address.
DEMO_BIND ?= 127.0.0.1:8000

.PHONY: bootstrap demo test lint format bench

bootstrap:
	@scripts/bootstrap.sh

# The demo needs the runtime packages only (scripts/demo-env.sh), so a fresh clone answers its first page
# without waiting for the development tools; `make bootstrap` adds those when you want them.
demo:
	@scripts/demo-env.sh
	$(BIN)/sitekeeper demo --bind $(DEMO_BIND)

test:
	@scripts/test.sh

lint: bootstrap
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: bootstrap
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: bootstrap
	$(BIN)/python bench/bench_due.py
	$(BIN)/python bench/bench_backup.py
	$(BIN)/python bench/bench_code_snapshots.py
	$(BIN)/python bench/bench_scan.py
	$(BIN)/python bench/bench_crawl.py
	SITEKEEPER_DATABASE_URL=$${SITEKEEPER_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/sitekeeper_bench} $(BIN)/python bench/bench_desk.py
