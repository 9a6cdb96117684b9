# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= out/demo

.PHONY: demo test lint typecheck bench tools clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# torch first, pinned: the CI machines carry this wheel locally; other versions pull several GB.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

tools:
	@bash scripts/check-tools.sh

demo: $(STAMP) tools
	$(BIN)/vyke demo --out $(OUT)

test: $(STAMP) tools
	$(BIN)/ruff check .
	$(BIN)/mypy core chefs
	@# one process: two workers compiling librosa's numba cache at once crashed on a fresh install
	$(BIN)/pytest -q -p no:xdist

bench: $(STAMP) tools
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache
