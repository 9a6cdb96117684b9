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
	@# pip byte-compiles on one core (95 of the install's 160 s on two); compileall does it on
	@# every core after. Compiled it must be: where PYTHONDONTWRITEBYTECODE is set (as on the CI
	@# machines) no process writes bytecode, so every process would compile what it imports
	$(BIN)/python -m pip install --quiet --no-compile torch==2.13.0
	$(BIN)/python -m pip install --quiet --no-compile -e '.[dev]'
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null 2>&1 || true
	@touch $(STAMP)

tools:
	@bash scripts/check-tools.sh

demo: $(STAMP) tools
	$(BIN)/vyke demo --out $(OUT)

test: $(STAMP)
	@bash scripts/check-tools.sh --with-browser
	@# Redis and PostgreSQL for the scale-out tests (each test starts its own Redis and
	@# SeaweedFS and makes a database of its own; this starts a stopped PostgreSQL or says how)
	@bash scripts/check-services.sh
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@# mypy beside the numba warm-up, one core each: the warm-up compiles librosa's numba cache
	@# once, in one process, before the tests' processes use it (two processes compiling it at
	@# once corrupted it on a fresh install)
	$(BIN)/mypy core chefs adapters bot & mypy=$$!; \
	$(BIN)/python -c "from jobs.demo_song import render_demo_song; from jobs.analysis import analyze; analyze(render_demo_song(duration_s=8.0), sample_rate=44100)"; \
	warm=$$?; wait $$mypy && test $$warm -eq 0
	@# two workers, one test file each at a time (a file's module fixtures, its renders, are
	@# built once); the slowest tests are listed at the end
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=30

bench: $(STAMP) tools
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@bash scripts/check-tools.sh --with-soundfonts
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache
