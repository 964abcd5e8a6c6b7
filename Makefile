# The two commands of the README: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast schemas bench clean

# `local` brings llama-cpp-python, which compiles from source the first time (about 5-8
# minutes on 2 cores); pip keeps the built wheel in its cache, so later set-ups take seconds.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip install --quiet -e '.[dev,local,ray]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/dsbuild demo

# pytest exits 5 when it collects no test: say so instead of failing.
test: setup
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

schemas: setup
	$(BIN)/python -m dsbuild.schemas.generate

# Benchmarks print figures and assert nothing; the fake OpenAI server needs aiohttp.
bench: setup
	$(BIN)/python -m pip install --quiet aiohttp
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/llm_engine.py
	$(BIN)/python benchmarks/local_model.py

clean:
	rm -rf $(VENV) build dist *.egg-info runs
