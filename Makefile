# Build, test and reproduce kvbook. Run `make test` for the test suite and
# `make reproduce` for the results: the Azure trace runs and the notebooks.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# The Azure LLM inference traces of 2023 are not committed. When a copy sits
# beside this repository, point the trace loader at it; otherwise the loader
# uses its download cache. An explicit KVBOOK_DATA_DIR always wins.
SHARED_AZURE := $(abspath ../shared/data/azure-llm-2023)
ifneq ($(wildcard $(SHARED_AZURE)/.),)
KVBOOK_DATA_DIR ?= $(SHARED_AZURE)
endif
ifdef KVBOOK_DATA_DIR
export KVBOOK_DATA_DIR
endif

NOTEBOOKS := $(wildcard notebooks/*.ipynb)
BUDGET ?= 16384

.PHONY: venv test reproduce bench clean

venv: $(VENV)/.installed

# Reinstall only when the package metadata changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

# Naming both paths runs the unit tests and the package doctests whatever the
# addopts in pyproject.toml, since a path there would replace testpaths. The
# notebook run clears addopts so that it does not collect the doctests again.
test: venv
	$(BIN)/python -m pytest tests kvbook
ifneq ($(NOTEBOOKS),)
	$(BIN)/python -m pytest -o addopts= --nbval notebooks/ \
		--nbval-sanitize-with notebooks/sanitize.cfg
endif

# The main job: every algorithm on both Azure traces, then the notebook
# series in order, which rewrites figures/ and figures/table.md.
reproduce: venv
	mkdir -p figures
	$(BIN)/kvbook run --trace azure-conv --budget $(BUDGET) --algorithms all \
		--figure figures/azure-conv-$(BUDGET).png
	$(BIN)/kvbook run --trace azure-code --budget $(BUDGET) --algorithms all \
		--figure figures/azure-code-$(BUDGET).png
	$(BIN)/python tools/run_notebooks.py

bench: venv
	$(BIN)/kvbook bench

# Removes build output and caches (numba's included); keeps .venv and figures/.
clean:
	rm -rf build dist *.egg-info .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
