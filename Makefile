# Two commands matter: `make demo` and `make test`. Everything else is for developers.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/bulwark

.PHONY: demo test test-postgres lint format bench load install clean messages

# Python modules setup.py compiles with Cython (the report exchange's hot path): an edit
# to one rebuilds it in place, so the tests never run a stale compiled copy.
COMPILED := $(wildcard src/bulwark/exchange/engine/*.py src/bulwark/exchange/engine/formats/*.py)

install: $(VENV)/.compiled

$(VENV)/.installed: pyproject.toml setup.py src/bulwark/monitoring/engine/_scan.pyx
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.compiled: $(VENV)/.installed $(COMPILED)
	$(BIN)/python setup.py --quiet build_ext --inplace
	touch $@

demo: install
	$(BIN)/bulwark demo

lint: install
	$(BIN)/ruff check src bench
	$(BIN)/ruff format --check src bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -p no:cacheprovider

test-postgres: install
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -p no:cacheprovider

format: install
	$(BIN)/ruff check --fix src bench
	$(BIN)/ruff format src bench

bench: install
	$(BIN)/python bench/api_read_load.py

# The load targets (docs/operations.md, "Capacity"): locust against gunicorn on PostgreSQL.
load: install
	$(BIN)/python -c 'import locust' 2>/dev/null || \
	  $(BIN)/pip install --quiet "$$(grep -o 'locust==[0-9.]*' pyproject.toml)"
	$(BIN)/python bench/load_api.py

messages: install
	cd src/bulwark && ../../$(BIN)/bulwark makemessages -l zh_Hant --no-obsolete && ../../$(BIN)/bulwark compilemessages -l zh_Hant

clean:
	rm -rf $(VENV) var build .mypy_cache .ruff_cache .pytest_cache
