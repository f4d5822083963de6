# Jupyter HDS: `make up` runs the hub with a demo project, `make test` proves it. `make help` lists all.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HDS_STATE_DIR ?= $(CURDIR)/var
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)
PYTEST_ARGS ?=
BENCH_ARGS ?=

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements/hub.txt requirements/test.txt pyproject.toml $(wildcard extensions/*/pyproject.toml)
	scripts/ensure-host.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements/hub.txt -r requirements/test.txt
	$(BIN)/pip install --quiet --no-deps -e . $(addprefix -e ,$(dir $(wildcard extensions/*/pyproject.toml)))
	touch $@

node_modules/.installed: package.json package-lock.json demo/oidc-provider/package.json demo/oidc-provider/package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	npm ci --prefix demo/oidc-provider --no-audit --no-fund --loglevel=error
	touch $@

venv: $(BIN)/.installed node_modules/.installed ## install the hub's Python and Node dependencies, and the demo provider's (pinned)

docker: ## install and start Debian's Docker engine when it is missing or stopped
	scripts/ensure-docker.sh

images: venv docker ## build the images when missing or stale (offline: debootstrap base, pinned wheels)
	$(BIN)/python images/build.py

up: venv docker images ## run the hub with a demo project on http://127.0.0.1:8000 (foreground)
	HDS_CONFIG_DIR=$(CURDIR)/hub/demo.d scripts/up.sh

test: venv docker images lint ## lint, then every test tier: unit, hub, docker, browser (two lanes at once)
	scripts/run-tests.sh $(PYTEST_ARGS)

lint: venv ## ruff and mypy
	$(BIN)/ruff check hub quota extensions images tests
	$(BIN)/ruff format --check hub quota extensions images tests
	# The policy modules; spawner and handler glue is mostly traitlets that mypy cannot follow.
	$(BIN)/mypy quota/hds_quota hub/jupyter_hds/policy hub/jupyter_hds/datasets hub/jupyter_hds/airlock/{store,freeze,checks,desk,preview,cli}.py hub/jupyter_hds/{deployment,settings,hubconfig,events,configdir}.py hub/jupyter_hds/projects/{storage,hardening,networks,firewall,guard,quota}.py hub/jupyter_hds/sharing/revocation.py hub/jupyter_hds/audit hub/jupyter_hds/backup hub/jupyter_hds/operations
	$(BIN)/mypy extensions/records/hds_records

lock: venv ## recompile the pinned requirements after editing a requirements*.in file
	# Resolved for Debian 12's Python (3.11.2), the oldest Python the hub and the image run on.
	for pair in requirements/hub requirements/test images/singleuser/requirements; do \
	  $(BIN)/uv pip compile --quiet --python-version 3.11.2 --python-platform x86_64-manylinux_2_36 \
	    --no-header --annotation-style line $$pair.in -o $$pair.txt || exit 1; \
	done

screenshots: venv docker images ## regenerate docs/screenshots/ from the browser journeys
	HDS_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest tests/browser $(PYTEST_ARGS)

bench: venv docker images ## run the benchmarks and write their figures to docs/benchmarks.md (BENCH_ONLY="spawn audit" reruns some)
	$(BIN)/python tests/benchmarks/collect.py --audit-args "$(BENCH_ARGS)" $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

install: ## install the hub under systemd: /opt/jupyter-hds, /etc/jupyter-hds, /var/lib/jupyter-hds (PREFIX, DESTDIR)
	scripts/ensure-host.sh
	hub/systemd/install.sh

clean: ## remove the virtual environment, build artefacts and node modules (keeps var/ and images)
	rm -rf $(VENV) build node_modules .pytest_cache extensions/*/node_modules

.PHONY: help venv docker images up test lint lock screenshots bench install clean
