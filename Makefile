# sports-log: `make dev` runs the whole system, `make test` passes the tests.
SHELL := /bin/bash
UV ?= uv
export UV_LINK_MODE ?= copy
# The workspace members (root pyproject.toml), each checked by deptry against its own
# pyproject.toml: its imports are its declared dependencies, no more and no fewer.
MEMBERS := $(patsubst %/pyproject.toml,%,$(wildcard libs/*/pyproject.toml services/*/pyproject.toml tests/e2e/pyproject.toml))

.PHONY: sync dev test lint format e2e bench up down clean

sync:
	@command -v $(UV) >/dev/null || { echo "uv is missing: pip install uv (or see README)"; exit 1; }
	$(UV) sync --all-packages --locked

dev: sync
	$(UV) run --no-sync python scripts/dev.py

lint: sync
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .
	$(UV) run --no-sync mypy
	$(UV) run --no-sync python scripts/check_architecture.py
	@rc=0; for m in $(MEMBERS); do \
	  src=src; [ -d $$m/src ] || src=.; echo "deptry $$m/$$src"; \
	  (cd $$m && $(UV) run --no-sync deptry --no-ansi $$src) || rc=1; \
	done; exit $$rc
	$(UV) run --no-sync vulture
	bash scripts/check_packages.sh

test: lint
	$(UV) run --no-sync pytest

format: sync
	$(UV) run --no-sync ruff format .
	$(UV) run --no-sync ruff check --fix .

e2e: sync
	$(UV) run --no-sync pytest tests/e2e

bench: sync
	@command -v wrk >/dev/null || case " $(strip $(ONLY)) " in "  "|*" activities "*|*" gateway "*) \
	  echo "make bench needs wrk, the load generator (Debian: sudo apt-get install wrk)"; exit 1;; esac
	$(UV) run --no-sync python -m bench.run $(ONLY)

up:
	docker compose --env-file deploy/secrets.env up --build

down:
	docker compose --env-file deploy/secrets.env down

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
