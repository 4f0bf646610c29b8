# `make demo` and `make test` are the README's two commands: each installs what it needs first.
# `make test` runs `make lint` (ruff, mypy) before pytest.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: install chromium demo lint test

$(BIN)/voc: pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $(BIN)/voc

install: $(BIN)/voc

# Browser tests and the Zhihu spider drive Debian's Chromium (Playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei; \
	  elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium fonts-wqy-microhei; \
	  else echo "Chromium is missing: install the Debian package 'chromium' (as root: apt-get install -y chromium)"; exit 1; fi; }

demo: install
	$(BIN)/voc demo $(DEMO_ARGS)

# ruff (the whole tree) and mypy (the packages); settings in pyproject.toml [tool.ruff] and [tool.mypy].
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install chromium lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)
