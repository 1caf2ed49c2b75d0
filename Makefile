# fer-lightning: every target installs the environment first when pyproject.toml changed.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

PYTHON ?= python3
VENV ?= .venv
EXP ?= baseline_fer2013
ARGS ?=
PYTEST_ARGS ?= --durations=25
BIN := $(VENV)/bin
STAMP := $(VENV)/.fer-lightning-installed
# pip 23 on these machines warns once per package about empty local indexes; keep the log readable.
# (grep finding nothing to print is fine; pip failing still fails the target through pipefail.)
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: install train quick cv seeds sweep test test-fast lint format experiments compare bench gpu-check publish tables notebooks clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]' 2>&1 | $(QUIET_PIP)
	@$(BIN)/python -c "import fer_lightning, torch, torchvision, lightning, timm, wandb, albumentations"
	@touch $(STAMP)

install: $(STAMP)

# RESUME=1 continues the latest run of EXP from its last.ckpt (same run directory, same W&B id).
RESUME ?=
train: install
	$(BIN)/fer-lightning fit --exp $(EXP) $(if $(filter 1 true yes,$(RESUME)),--ckpt_path last) $(ARGS)

# A first run that shows the whole loop in a few minutes on a laptop CPU: one epoch of
# baseline_fer2013 (train, validate, test report, W&B offline run). ARGS are added.
quick: install
	$(BIN)/fer-lightning fit --exp baseline_fer2013 --trainer.max_epochs=1 $(ARGS)

# k-fold cross-validation (experiments whose data has folds, e.g. EXP=cnn_ckplus): mean ± std.
cv: install
	$(BIN)/fer-lightning cv --exp $(EXP) $(ARGS)

# The experiment trained and tested with N seeds (each its own run directory): mean ± std of the
# test accuracy and macro F1 in runs/<experiment>/<timestamp>-seeds/seeds.json.
N ?= 3
seeds: install
	$(BIN)/fer-lightning seeds --exp $(EXP) --n $(N) $(ARGS)

# A grid of normal runs (optimizer x learning rate, ...) from a W&B sweep file; results table in
# runs/sweeps/<name>/<timestamp>/results.{md,csv}. ARGS go to every run.
# RESUME=runs/sweeps/<name>/<timestamp> continues a stopped sweep with its own file and ARGS.
SWEEP ?= experiments/sweeps/cnn_fer2013_optim.yaml
sweep: install
	$(BIN)/fer-lightning sweep $(if $(RESUME),--resume $(RESUME),$(SWEEP)) $(ARGS)

# Every test (what CI runs, .ci/run), in one process. test-fast leaves out the tests marked slow
# (each trains for more than a few seconds: DDP, kill-and-resume, the notebooks, every
# experiment, the benchmarks, stopped and seeded runs, real-data trainings) and spreads the rest
# over the cores (pytest-xdist, at most 4 workers, each test file on one worker so its module
# fixtures are made once): 152 s on 2 idle cores, against 194 s in one process, measured one
# after the other (the goal is under 2 minutes).
FAST_WORKERS ?= auto
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not slow" -n $(FAST_WORKERS) --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check fer_lightning tests notebooks
	$(BIN)/ruff format --check fer_lightning tests notebooks

format: install
	$(BIN)/ruff format fer_lightning tests notebooks
	$(BIN)/ruff check --fix fer_lightning tests notebooks

experiments: install
	@$(BIN)/fer-lightning experiments

# One markdown table of the runs in RUNS (run directories or folders of them; default
# $FER_RUNS_DIR or runs/), best test accuracy first, printed and written to COMPARISON.
RUNS ?= $${FER_RUNS_DIR:-runs}
COMPARISON ?= $${FER_RUNS_DIR:-runs}/comparison.md
compare: install
	$(BIN)/fer-lightning compare $(RUNS) --out $(COMPARISON)

# Speed ratios (harness overhead, input pipeline vs model, data preparation cold/warm, fp32 vs
# automatic precision, start-up seconds):
# benchmarks/results.json and BENCHMARKS.md. ARGS go to the benchmark (e.g. --quick).
bench: install
	$(BIN)/python -m fer_lightning.bench $(ARGS)

# Copy a finished run (RUN=runs/<experiment>/<stamp>, or a cv directory) into results/, then
# regenerate the papers' tables (results/tables.md and README.md) from everything in results/.
RUN ?=
NAME ?=
publish: install
	$(BIN)/fer-lightning publish $(RUN) $(if $(NAME),--name $(NAME))
	$(BIN)/fer-lightning tables

# Every generated table: the papers' (results/tables.md, README.md) from results/, and the
# experiments, backbones and heads (docs/experiments.md) from experiments/ and the registries.
tables: install
	$(BIN)/fer-lightning tables

# Execute the notebooks (notebooks/*.ipynb: dataset tour, results, errors and explanations, using a
# model) on the data under $FER_DATA_DIR and save them with their outputs, so that they read on
# GitHub without running (about 4 minutes on 2 cores). NOTEBOOK=name runs one of them.
NOTEBOOK ?=
notebooks: install
	$(BIN)/python notebooks/run.py $(NOTEBOOK)

# On one GPU, in a few minutes: bf16 training steps of every experiment family (images/s, peak
# memory, timm's RTX 3090 figures beside) and a 1-GPU DDP run over NCCL: benchmarks/GPU_CHECK.md.
# ARGS="--device cpu --steps 4 --warmup 1 --no-reference" runs the same code on the CPU.
gpu-check: install
	$(BIN)/python -m fer_lightning.bench.gpu_check $(ARGS)

clean:
	rm -rf runs .pytest_cache .ruff_cache
