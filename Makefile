# The two commands: `make run` (start the assistant) and `make test` (the whole suite).
# Everything else here is a step of those two.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Never download interpreters (use the machine's); no telemetry from Rasa.
export UV_PYTHON_DOWNLOADS := never
export RASA_TELEMETRY_ENABLED := false
export PATH := $(HOME)/.local/bin:$(PATH)

# Rasa's dependencies print pages of DeprecationWarnings; real warnings (UserWarning) still show.
RASA   := PYTHONWARNINGS=ignore::DeprecationWarning SQLALCHEMY_SILENCE_UBER_WARNING=1 rasa-env/.venv/bin/rasa
JECBOT := .venv/bin/jecbot
PYTEST := .venv/bin/pytest
RASA_FLAGS := --domain domain --config config.yml

.PHONY: help setup db lint lint-deploy train validate run test clean bench bench-storm bench-intake bench-session bench-turns screenshots

help:
	@echo "make run    set up, load demo data, train if needed, start the assistant (Ctrl-C stops)"
	@echo "make test   set up, lint, validate the training data, train if needed, run every test"
	@echo "steps:      make setup | db | lint | lint-deploy | validate | train | clean"
	@echo "bench:      make bench | bench-storm (or STORM=1) | bench-intake | bench-session | bench-turns"

## Both environments (uv, locked) and .env. Cheap when nothing changed.
setup:
	@command -v uv >/dev/null || { \
	  echo "==> Installing uv (the Python package manager) for this user"; \
	  python3 -m pip install --user --quiet uv \
	  || python3 -m pip install --user --quiet --break-system-packages uv \
	  || pip install --quiet uv; }
	@py311=""; \
	for cand in python3 $$(ls -d $$(pyenv root 2>/dev/null || echo $${PYENV_ROOT:-$$HOME/.pyenv})/versions/3.1[1-9]* 2>/dev/null | sort -V -r | sed 's|$$|/bin/python3|'); do \
	  if "$$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then py311=$$cand; break; fi; \
	done; \
	[ -n "$$py311" ] || { echo "No Python 3.11+ found for the app: install one (e.g. 'pyenv install 3.11')." >&2; exit 1; }; \
	py310=$$(scripts/find-python310.sh); \
	echo "==> App environment (.venv, $$($$py311 --version))"; \
	uv sync --frozen --quiet --python "$$py311"; \
	echo "==> Rasa environment (rasa-env/.venv, $$($$py310 --version)); the first time takes a few minutes"; \
	uv sync --frozen --quiet --project rasa-env --python "$$py310"
	@[ -f .env ] || { cp .env.example .env; echo "==> Created .env from .env.example"; }

## Database schema (migrations) and demo data (only when empty).
db:
	@echo "==> Database schema"
	@$(JECBOT) init-db
	@echo "==> Demo data (skipped if members exist)"
	@$(JECBOT) demo-data --if-empty

## Lint and formatting (ruff, configured in pyproject.toml): the same check CI runs.
lint:
	@echo "==> ruff check and ruff format --check"
	@.venv/bin/ruff check bot tests bench
	@.venv/bin/ruff format --check --quiet bot tests bench

## Deployment files (deploy/, .github/): hadolint, docker-compose config, caddy adapt, yamllint,
## kubernetes-validate, checkov, systemd-analyze verify. The Python linters live in their own
## locked environment (deploy/tools); the others are Debian packages that .ci/run installs.
lint-deploy:
	@deploy/lint.sh

## Check the Rasa training data and domain.
validate:
	@echo "==> Validating Rasa domain and training data"
	@$(RASA) data validate $(RASA_FLAGS) --data data --quiet

## Train a model into models/; Rasa skips training when data and config are unchanged.
train:
	@echo "==> Training the Rasa model (skipped if nothing changed; a few minutes otherwise)"
	@$(RASA) train $(RASA_FLAGS) --data data --out models --quiet

run: setup db train
	@$(JECBOT) run

test: setup lint lint-deploy validate train
	@echo "==> Running the test suite"
	@$(PYTEST) tests

## Generated files only: models, logs, local databases. Environments and .env stay.
clean:
	rm -rf models results var .pytest_cache tests/artifacts

## Benchmark: our stack through the gateway (web + signed SMS) next to a bare `rasa init` bot:
## p50/p95/p99 at 5/10/20 msg/s offered (open loop) and the capacity ratio; var/bench/gateway.json.
## STORM=1 runs bench-storm instead. bench-turns: the older per-turn-category table (Rasa channel).
## Asserts nothing.
bench: BENCH_MAKE_STARTED := $(shell date +%s)
bench: setup db train
	@STORM=$(STORM) .venv/bin/python -m bench.gateway_run

## Storm: 1,000 signed texts at 50/s from distinct numbers + 20 web members (BENCH_STORM_*);
## webhook ack p50/p99, last member answered, real answers / courtesy / apologies / unanswered.
bench-storm: setup db train
	@.venv/bin/python -m bench.gateway_run storm

## Intake: the SMS webhook alone (the real gateway, a stand-in assistant), 1,000 texts at 50/s
## (BENCH_INTAKE_*): ack p50/p95/p99 alone, beside CPU hogs at our priority and at ASSISTANT_NICE.
bench-intake: setup db
	@.venv/bin/python -m bench.intake

## One member, 470 turns in one session: turn p50 after 1/150/300/450 turns (BENCH_TRACKER=rasa
## for Rasa's own tracker store).
bench-session: setup db train
	@.venv/bin/python -m bench.session

bench-turns: BENCH_MAKE_STARTED := $(shell date +%s)
bench-turns: setup db train
	@BENCH_MAKE_STARTED=$(BENCH_MAKE_STARTED) .venv/bin/python -m bench.run

## Refresh the README's screenshots (docs/screenshots/) from the browser tests.
screenshots: setup
	@PUBLISH_SCREENSHOTS=1 $(PYTEST) -q tests/browser
