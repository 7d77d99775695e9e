# Two commands on a fresh machine: `make demo` and `make test`. Everything else is a step they call.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo release fuzz bench bench-model-server bench-gateway gateway-env-size clean

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

# A release against `make demo`'s stack (model server 8500, gateway 8000): gate, publish, verify.
release: install
	$(BIN)/covertype release $(if $(DATA),--data $(DATA))

# A longer schema-driven fuzz of the gateway than `make test` runs (all phases, 5 minutes),
# against `make demo`'s gateway on port 8000.
fuzz: install
	$(BIN)/st run http://127.0.0.1:8000/openapi.json --checks all --max-time 300

# Benchmarks print figures; they are never part of `make test`. The gateway's needs wrk.
bench: bench-model-server bench-gateway

bench-model-server: install
	$(BIN)/python -P benchmarks/model_server.py

bench-gateway: install
	@command -v wrk >/dev/null || { echo "bench-gateway needs wrk: apt-get install -y wrk"; exit 2; }
	$(BIN)/python -P benchmarks/gateway.py

gateway-env-size:
	benchmarks/gateway_env_size.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
