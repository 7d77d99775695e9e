# Two commands on a fresh machine: `make demo` and `make test`. Everything else is a step they call.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet --constraint requirements/constraints.txt --editable '.[all,dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint
	$(BIN)/pytest

# `make demo DATA=path/to/train.csv`; by default the first file that exists of data/train.csv and the
# test data beside the repository (../shared/data/train.csv), else the trainer's discovery order.
DATA ?= $(firstword $(wildcard data/train.csv ../shared/data/train.csv))

demo: install
	$(BIN)/covertype demo $(if $(DATA),--data $(DATA))

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
