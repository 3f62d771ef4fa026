# The front door: `make demo` runs the forwarder end to end on the embedded local stack,
# `make test` runs every check CI runs. Both build .venv from the requirement files first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.13: use a 3.13 interpreter from PATH, pyenv, or $(PYTHON313) if given.
PYTHON313 ?= $(shell for c in python3.13 "$$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13; do \
	PYENV_VERSION=$${PYENV_VERSION:-3.13.0} "$$c" -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/forwarder/requirements.txt | cksum | cut -d' ' -f1)
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
# sam build needs python3.13 itself on PATH.
SAM_PATH := $(dir $(PYTHON313)):$(abspath $(BIN)):$(PATH)
PYTEST_ARGS ?=
BENCH_ARGS ?=
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/forwarder:$(CURDIR)/functions/forwarder

# The AWS account targets (deploy, logs, check-credentials, send-test, dlq: the ops/ package): ENV is a samconfig.toml
# environment (default or prod), ARGS more options (ARGS=--help lists them). They must not inherit the
# us-east-1 exported above for the local stack: unless you set AWS_DEFAULT_REGION yourself, they run
# without it, so samconfig.toml's region, AWS_REGION or your profile's applies.
ENV := default
ARGS ?=
ACCOUNT_ENV := $(if $(filter file,$(origin AWS_DEFAULT_REGION)),env -u AWS_DEFAULT_REGION)

.PHONY: help venv lint typecheck template unit integration e2e test demo sandbox local-stack bench bench-rate bench-outage clean
.PHONY: security dlq validate build deploy logs check-credentials send-test version release

help:
	@echo "make demo   run the forwarder end to end on the embedded local stack (no AWS, no Rokt account)"
	@echo "make test   lint, type-check, template checks + security scan, unit + integration + end-to-end tests"
	@echo "The local stack (devstack/):"
	@echo "make sandbox      run the local Rokt Event API sandbox on :8765 (SANDBOX_ARGS=--help)"
	@echo "make local-stack  moto on :5000 + sandbox on :8765, for sam local (STACK_ARGS=--help; SANDBOX_ARGS as above)"
	@echo "On your AWS account (ops/; ENV=prod for production; ARGS=--help for options):"
	@echo "make deploy       check prerequisites, sam build, sam deploy up to the change set, read it, run it"
	@echo "make logs         tail the deployed function's logs"
	@echo "make check-credentials ARGS=\"--pod us1 --secret-id ...\"  does Rokt accept the key/secret?"
	@echo "make send-test    send test conversions to the deployed queue and see each one's outcome"
	@echo "make dlq ARGS=... report / redrive dead letters (ARGS=\"validate FILE\" is make validate)"
	@echo "make validate FILE=feed.jsonl [ARGS=...]  check a JSON Lines feed offline, as the forwarder would"
	@echo "  Each tool exits 0 ok, 1 problem found, 2 cannot run, 130 interrupted; make itself exits 2 when"
	@echo "  a tool does not exit 0 (run .venv/bin/python -m ops.<tool> for the tool's own status)."
	@echo "Building and releasing:"
	@echo "make build        sam build (with python3.13 on PATH)"
	@echo "make version [VERSION=x.y.z]  check the version's copies agree, or set a new version everywhere"
	@echo "make release S3_BUCKET=...     the packaged template and artefacts of this version, ready to upload"
	@echo "Checks, one at a time (make test runs them all):"
	@echo "make lint         ruff check and ruff format --check"
	@echo "make typecheck    mypy --strict over the runtime, the function, devstack/, ops/ and bench/"
	@echo "make template     cfn-lint and sam validate --lint over template.yaml"
	@echo "make security     checkov over template.yaml (its own .venv-checkov)"
	@echo "make unit         unit and template tests (PYTEST_ARGS=... for pytest)"
	@echo "make integration  integration tests on the embedded stack"
	@echo "make e2e          end-to-end tests (minutes)"
	@echo "Benchmarks (bench/; minutes; docs/benchmarks.md):"
	@echo "make bench        CPU, cold start, memory vs the mParticle SDK (BENCH_ARGS=--help; docs/benchmarks.md)"
	@echo "make bench-rate   containers at the API's rate limit on each model of it, and a plot (BENCH_ARGS=\"--rows 1,3\")"
	@echo "make bench-outage an Event API outage of hours, in simulated time (BENCH_ARGS=\"--hours 1,24\")"
	@echo "Housekeeping:"
	@echo "make venv         build .venv from the requirement files, with this project installed editable"
	@echo "make clean        remove .venv, .venv-checkov, build output and caches"

# The venv: the pinned requirements, then this project itself, editable (pyproject.toml), so that
# `python -m ops.dlq` and `python -m devstack.sandbox` work in the activated venv without make's
# PYTHONPATH. setuptools comes pinned from requirements-dev.txt: no build isolation, no download.
# (PYTHONWARNINGS: setuptools warns that folders named like the packages may shadow them; they are them.)
$(STAMP): requirements-dev.txt layers/forwarder/requirements.txt
	@if [ -z "$(PYTHON313)" ]; then echo "error: Python 3.13 not found (install it, e.g. 'pyenv install 3.13', or run make PYTHON313=/path/to/python3.13)" >&2; exit 1; fi
	rm -rf $(VENV)
	$(PYTHON313) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/forwarder/rokt_forwarder functions/forwarder devstack ops bench

# `sam build` runs in tests/template/test_artifacts.py, which checks what the artifacts hold.
template: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	PATH="$(SAM_PATH)" $(BIN)/sam validate --lint --template template.yaml

unit: $(STAMP)
	$(BIN)/pytest tests/unit tests/template $(PYTEST_ARGS)

integration: $(STAMP)
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

# checkov over the template; each skipped check is justified next to it in template.yaml (Metadata).
# --skip-download: no call to the vendor's platform (its guideline links), so it runs offline too.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cksum requirements-checkov.txt | cut -d' ' -f1)
$(CHECKOV_STAMP): requirements-checkov.txt
	@if [ -z "$(PYTHON313)" ]; then echo "error: Python 3.13 not found" >&2; exit 1; fi
	rm -rf $(CHECKOV_VENV)
	$(PYTHON313) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

security: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml

# Unit, template and integration tests on every core (each picks its ports at 0 and builds in its
# own temp dir); then the e2e runs alone, as they measure a whole stack against its deadlines.
test: lint typecheck template security
	$(BIN)/pytest -n auto -m "not e2e" $(PYTEST_ARGS)
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m devstack.demo $(DEMO_ARGS)

sandbox: $(STAMP)
	$(BIN)/python -m devstack.sandbox $(SANDBOX_ARGS)

local-stack: $(STAMP)
	$(BIN)/python -m devstack.stack $(STACK_ARGS) -- $(SANDBOX_ARGS)

dlq: $(STAMP)
	$(ACCOUNT_ENV) $(BIN)/python -m ops.dlq --config-env $(ENV) $(ARGS)

# Offline: no AWS account. FILE is the JSON Lines feed (- for standard input), ARGS more options.
FILE ?=
validate: $(STAMP)
	@if [ -z "$(FILE)" ]; then echo "error: name the feed: make validate FILE=conversions.jsonl" >&2; exit 1; fi
	$(BIN)/python -m ops.validate "$(FILE)" $(ARGS)

build: $(STAMP)
	@if [ -z "$(PYTHON313)" ]; then echo "error: sam build needs Python 3.13 (pyenv install 3.13, or make build PYTHON313=/path/to/python3.13)" >&2; exit 1; fi
	PATH="$(SAM_PATH)" $(BIN)/sam build

deploy: $(STAMP)
	$(ACCOUNT_ENV) $(BIN)/python -m ops.deploy --config-env $(ENV) --python "$(PYTHON313)" $(ARGS)

logs: $(STAMP)
	$(ACCOUNT_ENV) $(BIN)/python -m ops.logs --config-env $(ENV) $(ARGS)

check-credentials: $(STAMP)
	$(ACCOUNT_ENV) $(BIN)/python -m ops.check_credentials --config-env $(ENV) $(ARGS)

send-test: $(STAMP)
	$(ACCOUNT_ENV) $(BIN)/python -m ops.send_test --config-env $(ENV) $(ARGS)

# The version's one source is rokt_forwarder.__version__; this checks its copies, or with VERSION=x.y.z
# writes it everywhere and turns CHANGELOG.md's Unreleased section into that version's.
VERSION ?=
version: $(STAMP)
	$(BIN)/python -m devstack.version $(VERSION)

# The packaged template and the artefacts of this version in dist/rokt-event-forwarder-<version>/,
# for S3_BUCKET; refuses a dirty tree or a released version (docs/operations.md: Releases). Needs no AWS account.
S3_BUCKET ?=
S3_PREFIX ?= rokt-event-forwarder
SOURCE_URL ?=
release: $(STAMP)
	@if [ -z "$(S3_BUCKET)" ]; then echo "error: name the bucket the artefacts will be uploaded to: make release S3_BUCKET=..." >&2; exit 1; fi
	$(BIN)/python -m devstack.release --s3-bucket "$(S3_BUCKET)" --s3-prefix "$(S3_PREFIX)" --python "$(PYTHON313)" $(if $(SOURCE_URL),--source-url "$(SOURCE_URL)")

# Not part of `make test`: they take minutes and their numbers depend on the machine (docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-rate: $(STAMP)
	$(BIN)/python -m bench rate $(BENCH_ARGS)

bench-outage: $(STAMP)
	$(BIN)/python -m bench outage $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .bench dist .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info build
