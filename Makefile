# Two commands on a fresh machine: `make demo` and `make test`. Everything else is a step they call.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Every .proto: the generated stubs are rebuilt when one changes (and uv's cache-keys agree).
PROTOS := $(shell find protos -name '*.proto')

.PHONY: install lock lock-peers test lint browser demo demo-registry release verify images fuzz bench bench-model-server bench-gateway bench-peers bench-profile gateway-env-size clean

install: $(STAMP)

# uv.lock pins every distribution with its hashes; uv itself comes from requirements/uv.txt
# (its hashes, taken from the same lock by `make lock`). `--locked` fails if pyproject.toml
# changed without `make lock`. `--compile-bytecode` writes every module's .pyc once here: uv
# does not by default, and with PYTHONDONTWRITEBYTECODE set (as in CI and the images) every
# process would compile TensorFlow's sources again (23.8 s to import it, against 7 s).
$(STAMP): pyproject.toml setup.py uv.lock requirements/uv.txt $(PROTOS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/uv.txt
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --quiet --locked --compile-bytecode --extra dev \
		--python $(BIN)/python --reinstall-package covertype
	touch $(STAMP)

# Re-resolve uv.lock from pyproject.toml's ranges (`make lock UPGRADE=1`: newest releases).
lock:
	test -x $(BIN)/uv || { echo "make lock needs $(BIN)/uv: run make install first"; exit 2; }
	$(BIN)/uv lock $(if $(UPGRADE),--upgrade)
	{ echo "# uv with its hashes, taken from uv.lock by make lock: do not edit"; \
	  $(BIN)/uv export --locked --extra dev --no-emit-project --format requirements-txt \
		| awk '/^uv==/ {keep=1; print; next} keep && /^ +--hash/ {print; next} {keep=0}'; \
	} > requirements/uv.txt

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser tests (tests/browser) drive Debian's chromium, never a browser Playwright downloads:
# installed here when missing (as root; otherwise it says what to install). COVERTYPE_CHROMIUM
# names another Chromium to use instead.
browser:
	@test -x /usr/bin/chromium || test -n "$$COVERTYPE_CHROMIUM" || { \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	    echo "the browser tests need Debian's chromium package (/usr/bin/chromium):" \
	      "apt-get install -y --no-install-recommends chromium, as root"; exit 2; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends chromium \
	    || { apt-get update && apt-get install -y --no-install-recommends chromium; }; }

test: install lint browser
	$(BIN)/pytest

# `make demo DATA=path/to/train.csv`; by default the first file that exists of data/train.csv and the
# test data beside the repository (../shared/data/train.csv), else the trainer's discovery order.
DATA ?= $(firstword $(wildcard data/train.csv ../shared/data/train.csv))

demo: install
	$(BIN)/covertype demo $(if $(DATA),--data $(DATA))

# The demo in registry mode: a local S3 server (rclone), a sync, then the usual stack.
demo-registry: install
	$(BIN)/covertype demo --registry s3 $(if $(DATA),--data $(DATA))

# A release against `make demo`'s stack (model server 8500, gateway 8000): gate, publish, verify.
# REGISTRY=URI releases through a registry; RELEASE_FLAGS passes more flags (--tfserving,
# --gateway, --reason, ...). make exits 2 whatever failed, so covertype release's own exit
# code (0 released, 1 failed, 2 invalid data, 3 halted by the gate, 4 rolled back) is also
# written to $(RELEASE_STATUS), for CI to tell a gate halt from a failure (Jenkinsfile).
RELEASE_STATUS ?= runs/release-status
release: install
	@mkdir -p $(dir $(RELEASE_STATUS)) && rm -f $(RELEASE_STATUS)
	$(BIN)/covertype release $(if $(DATA),--data $(DATA)) $(if $(REGISTRY),--registry $(REGISTRY)) \
		$(RELEASE_FLAGS); status=$$?; echo $$status > $(RELEASE_STATUS); exit $$status

# After a release: every answer through the gateway (all replicas, round-robin) comes from
# the newest AVAILABLE version, or LIVE_VERSION=N; GATEWAY=URL (default: make demo's).
verify: install
	$(BIN)/python -P deploy/ci/verify_live.py $(if $(GATEWAY),--gateway $(GATEWAY)) \
		$(if $(LIVE_VERSION),--version $(LIVE_VERSION))

# The four images, tagged as compose.yaml and compose.registry.yaml name them.
PROJECT_VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)
images:
	docker build -f gateway/Dockerfile -t covertype-gateway:$(PROJECT_VERSION) .
	docker build -f trainer/Dockerfile -t covertype-trainer:$(PROJECT_VERSION) .
	docker build -f registry/Dockerfile -t covertype-registry:$(PROJECT_VERSION) .
	docker build -f console/Dockerfile -t covertype-console:$(PROJECT_VERSION) .

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

# Our stack against Ray Serve (tuned and default) and BentoML, in one run (benchmarks/peers.py).
# The peers live in their own environment, $(PEERS_VENV), installed with hashes from
# benchmarks/peers/requirements.txt, never from uv.lock: in one lock with the project, BentoML's
# exact OpenTelemetry pins moved opentelemetry-api, a dependency of FastAPI and so of the
# gateway's production image, and would hold it back at every `make lock UPGRADE=1`; a
# benchmark must not choose the gateway's versions. `make test` never installs them.
PEERS_VENV := .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed
PEERS_REQUIREMENTS := benchmarks/peers/requirements.txt

$(PEERS_STAMP): $(PEERS_REQUIREMENTS) | $(STAMP)
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(BIN)/uv pip sync --quiet --require-hashes --compile-bytecode --python $(PEERS_VENV)/bin/python \
		$(PEERS_REQUIREMENTS)
	touch $(PEERS_STAMP)

# Re-resolve the peers' pins (with hashes, for Linux) from benchmarks/peers/requirements.in.
lock-peers: install
	$(BIN)/uv pip compile --quiet --generate-hashes --no-header --python-version 3.11 \
		--python-platform linux benchmarks/peers/requirements.in -o $(PEERS_REQUIREMENTS)

bench-peers: install $(PEERS_STAMP)
	@command -v wrk >/dev/null || { echo "bench-peers needs wrk: apt-get install -y wrk"; exit 2; }
	$(BIN)/python -P benchmarks/peers.py

# Microseconds per stage of one request, sampled with py-spy (benchmarks/profile_request.py).
bench-profile: install
	@command -v wrk >/dev/null || { echo "bench-profile needs wrk: apt-get install -y wrk"; exit 2; }
	$(BIN)/python -P benchmarks/profile_request.py

gateway-env-size:
	benchmarks/gateway_env_size.sh

clean:
	rm -rf $(VENV) $(PEERS_VENV) build *.egg-info .pytest_cache .ruff_cache
