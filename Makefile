# fer-lightning: every target installs the environment first when pyproject.toml changed.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

PYTHON ?= python3
VENV ?= .venv
EXP ?= baseline_fer2013
ARGS ?=
PYTEST_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.fer-lightning-installed
# pip 23 on these machines warns once per package about empty local indexes; keep the log readable.
# (grep finding nothing to print is fine; pip failing still fails the target through pipefail.)
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: install train test lint format experiments clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]' 2>&1 | $(QUIET_PIP)
	@$(BIN)/python -c "import fer_lightning, torch, torchvision, lightning, timm, wandb, albumentations"
	@touch $(STAMP)

install: $(STAMP)

train: install
	$(BIN)/fer-lightning fit --exp $(EXP) $(ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check fer_lightning tests
	$(BIN)/ruff format --check fer_lightning tests

format: install
	$(BIN)/ruff format fer_lightning tests
	$(BIN)/ruff check --fix fer_lightning tests

experiments: install
	@$(BIN)/fer-lightning experiments

clean:
	rm -rf runs .pytest_cache .ruff_cache
