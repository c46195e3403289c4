# incytes-billing — one entry point for people and CI. Run `make help`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.13: use it wherever it can be found (PATH, then pyenv), else fall back loudly.
PY313 := $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
            if $$p -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1; then command -v $$p; break; fi; done)
BOOTSTRAP_PYTHON := $(if $(PY313),$(PY313),python3)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
export PYTHONPATH := $(CURDIR)/layers/shared:$(CURDIR)/devtools:$(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv test lint typecheck cfn-lint pytest local emulator catalog sam-venv sam-check sam-build webhook-event bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.txt
	@if [ -z "$(PY313)" ]; then echo "WARNING: no python3.13 found (Lambda's runtime); falling back to $$(python3 --version)"; fi
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## create the project virtualenv from pinned dependencies

test: venv lint typecheck cfn-lint pytest ## the whole test suite: ruff, mypy, cfn-lint, pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

cfn-lint: venv
	$(VENV)/bin/cfn-lint template.yaml

pytest: venv
	@$(PY) -c 'import sys; v=sys.version_info; print(f"pytest on Python {v.major}.{v.minor}" + ("" if v[:2]==(3,13) else " (NOT the Lambda runtime 3.13)"))'
	$(PY) -m pytest $(PYTEST_ARGS)

local: venv ## run the Docker-free local stack (moto, Stripe emulator, API on :3000)
	$(PY) -m local_stack

emulator: venv ## run the Stripe emulator alone on :12111
	$(PY) -m stripe_emulator

catalog: venv ## make Stripe's catalog match config/catalog.toml (local emulator unless STRIPE_API_KEY is set)
	$(PY) -m incytes_billing.catalog

$(SAM_VENV)/.installed:
	$(BOOTSTRAP_PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $@

sam-venv: $(SAM_VENV)/.installed ## install aws-sam-cli in its own virtualenv

# sam build runs the layer's makefile, which needs python3.13 on PATH.
sam-check: sam-venv ## sam validate --lint and sam build
	$(SAM) validate --lint
	PATH="$(dir $(PY313)):$$PATH" $(SAM) build --parallel
	$(PY) -m devtools_checks.layer_bytecode .aws-sam/build/SharedLayer

clean: ## remove virtualenvs and build output
	rm -rf $(VENV) $(SAM_VENV) .aws-sam
