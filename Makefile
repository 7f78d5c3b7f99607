# sports-log: `make dev` runs the whole system, `make test` passes the tests.
SHELL := /bin/bash
UV ?= uv
export UV_LINK_MODE ?= copy
# The workspace members (root pyproject.toml), each checked by deptry against its own
# pyproject.toml: its imports are its declared dependencies, no more and no fewer.
MEMBERS := $(patsubst %/pyproject.toml,%,$(wildcard libs/*/pyproject.toml services/*/pyproject.toml tests/e2e/pyproject.toml))

.PHONY: sync dev test lint format e2e bench images test-containers up down clean

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

# The four service images, localhost/sportslog-<service>:latest (podman, else docker); on a
# machine without an image registry, built on a local Debian base (scripts/local-images.sh).
images:
	bash scripts/images.sh

# The images proven as the processes are: their shape and make dev's servers
# (tests/containers), the e2e suite with every service running as its container, then the
# journeys marked `compose` against compose.yaml itself (+ deploy/compose.local.yaml). Left out: the e2e files that start,
# kill or restart service processes of their own.
CONTAINER_E2E_SKIP := test_faults_broker test_faults_database test_faults_processes \
	test_gateway_upstreams test_startup_refusals test_dev_command
test-containers: sync images
	$(UV) run --no-sync pytest tests/containers
	SPORTSLOG_E2E_IMAGES='localhost/sportslog-{service}:latest' $(UV) run --no-sync pytest tests/e2e \
	  $(foreach t,$(CONTAINER_E2E_SKIP),--ignore=tests/e2e/$(t).py)
	SPORTSLOG_E2E_COMPOSE=1 $(UV) run --no-sync pytest tests/e2e -m compose

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
