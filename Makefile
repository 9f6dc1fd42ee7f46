# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.example.toml

.PHONY: run test lint bench reliability catalogs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# The service in the foreground: the sample reaches ./outbox at once; Ctrl-C stops it.
run: $(VENV)/.installed
	$(BIN)/commsbot --config $(CONFIG) init --sample
	$(BIN)/commsbot --config $(CONFIG) run

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy commsbot tests
	$(BIN)/lint-imports
	$(BIN)/deptry .

test: lint
	$(BIN)/pytest

# The long form of tests/reliability (make test runs the short one): 200 items, 20 SIGKILLs,
# 30 % faulty answers; prints kills survived, faults injected, inputs tried, duplicates, lost.
reliability: $(VENV)/.installed-test
	COMMSBOT_RELIABILITY=long $(BIN)/pytest tests/reliability -q

# After a message changed in a template or the code: the catalog template, merged into
# every packaged catalog (new messages empty, to be translated; templates check says which).
catalogs: $(VENV)/.installed
	$(BIN)/python -m commsbot.i18n.check

bench: $(VENV)/.installed-test
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) outbox commsbot.db commsbot.db-wal commsbot.db-shm commsbot.db.lock
