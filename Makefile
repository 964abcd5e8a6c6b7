# The two commands of the README: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The Label Studio server of the integration tests lives in its own virtualenv: it pins
# old versions of packages dsbuild uses. Installing it takes a few minutes, once.
LS_VENV    := .venv-labelstudio
LS_STAMP   := $(LS_VENV)/.installed
LS_STATE   := build/labelstudio
LS_VERSION := 1.23.2

.PHONY: setup labelstudio-setup browser-setup demo lint test test-fast schemas bench clean

# `local` brings llama-cpp-python, which compiles from source the first time (about 5-8
# minutes on 2 cores); pip keeps the built wheel in its cache, so later set-ups take seconds.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip install --quiet -e '.[dev,local,ray,shards]'
	touch $(STAMP)

setup: $(STAMP)

$(LS_STAMP):
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LS_VENV)/bin/python -m pip install --quiet label-studio==$(LS_VERSION)
	touch $(LS_STAMP)

labelstudio-setup: $(LS_STAMP)

demo: setup
	$(BIN)/dsbuild demo

# pytest exits 5 when it collects no test: say so instead of failing.
# One Label Studio server runs for the whole session (a copy of a data dir template made
# once, so it starts in seconds) and is stopped after, whatever pytest did; the exit code
# is pytest's. Without a server (no install, no PyPI) the `labelstudio` tests skip and say
# why. LABEL_STUDIO=0 make test runs without it.
# ruff's lint and format check over the whole tree (config in pyproject.toml); part of `make test`.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser test drives Label Studio in Debian's Chromium (Playwright's own browser download
# is not needed), with CJK and colour-emoji fonts so screenshots show the answers' characters:
# installed with apt-get when missing, if we can; else that test skips (or draws boxes).
BROWSER_PACKAGES = chromium fonts-noto-cjk fonts-noto-color-emoji
browser-setup:
	@if ! command -v chromium >/dev/null 2>&1 || \
	   { command -v dpkg >/dev/null 2>&1 && ! dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1; }; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq $(BROWSER_PACKAGES)) >/dev/null 2>&1) \
	    || echo "$(BROWSER_PACKAGES) could not all be installed: the browser test may skip"; \
	  else echo "no chromium or fonts (apt-get as root not available): the browser test may skip"; fi; \
	fi

test: setup lint
	@if [ "$(LABEL_STUDIO)" != "0" ]; then $(MAKE) --no-print-directory labelstudio-setup \
	  || echo "Label Studio could not be installed: its integration tests will skip"; \
	  $(MAKE) --no-print-directory browser-setup; fi
	@lsrv="$(BIN)/python -m dsbuild.labelstudio.server --state $(LS_STATE) --session $$$$"; \
	trap "$$lsrv stop >/dev/null" EXIT; trap 'exit 130' INT TERM; \
	if [ "$(LABEL_STUDIO)" != "0" ]; then \
	  $$lsrv start || true; \
	  if [ -f $(LS_STATE)/sessions/$$$$.env.sh ]; then . ./$(LS_STATE)/sessions/$$$$.env.sh; fi; \
	fi; \
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

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
	rm -rf $(VENV) $(LS_VENV) build dist *.egg-info runs
