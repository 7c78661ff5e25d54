# Everything runs from the locked environment in .venv; uv itself lives in .uv/ so that
# `uv sync` (which removes what the lock does not list) never uninstalls it.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: install run test lint bench clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	UV_PYTHON=$(PYTHON) $(UV) sync --frozen --all-groups
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/taskhub dev

test: install
	$(BIN)/pytest -n $(PYTEST_WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf .venv .uv .taskhub .pytest_cache .mypy_cache .ruff_cache
