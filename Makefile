# Everything installs itself: only python3 (>= 3.10) and make are assumed.
# uv is bootstrapped into .uv/ when it is not already there; the project lives in .venv/.
PYTHON ?= python3
UV := .uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install demo test test-fast check lint format typecheck bench clean emulator plugins

help:
	@echo "make demo   - run the whole pipeline twice on the bundled Zoho CRM emulator"
	@echo "make test   - lint, type-check and run every test (tests/<tier>, 3 workers)"
	@echo "make test-fast - the unit and in-process tests of the emulator, tap, target and insights"
	@echo "make bench  - run the benchmarks and rewrite BENCHMARKS.md (BENCH_ARGS=\"--quick\" for a short run)"

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check "uv>=0.5"

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI machines)
# every process would otherwise compile its imports again (about 0.9 s per tap or target run).
$(BIN)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet --compile-bytecode --python $(PYTHON)
	$(BIN)/python -m compileall -q -j 0 tap_zohocrm target_sqlite_audit zoho_crm_emulator zoho_crm_insights
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/python scripts/demo.py

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

lint: check

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Tiers: tests/{emulator,tap,target,insights} (in-process), tests/reliability, tests/e2e.
# PYTEST_WORKERS=1 runs them in one process; 3 workers keep both cores busy while tests wait
# on subprocesses and latency (measured: 4 min 33 s with 3, 5 min 2 s with 2).
PYTEST_WORKERS ?= 3

test: check
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=15

test-fast: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not slow" tests/emulator tests/tap tests/target tests/insights

# Options: BENCH_ARGS="--quick", "--only tap", ... (see `.venv/bin/python -m benchmarks.run --help`).
bench: install
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# Rewrite plugins/*.yml and meltano.yml's plugin blocks from the plugins' --about.
plugins: install
	$(BIN)/python scripts/plugin_definitions.py

emulator: install
	$(BIN)/zoho-crm-emulator serve --port 8765

clean:
	rm -rf .venv .uv .meltano .bench output .pytest_cache .mypy_cache .ruff_cache
