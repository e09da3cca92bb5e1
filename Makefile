# The two commands: `make demo` and `make test`. Both create .venv and install on first use.
# `make test-fast`: the unit, review and CLI tests without the emulator (seconds; for every save).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := out/demo
# The browser tests/browser drives (the access matrix in headless chromium): Debian's package.
CHROMIUM := /usr/bin/chromium

.PHONY: refresh-roles demo test test-fast test-lowest test-pythons test-compat test-compat-cli test-compat-sdk lint format typecheck schemas bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Installed when missing (CI is a clean machine that reaches Debian's package registry); sudo
# unless root. Without it the browser test fails, naming what is missing.
$(CHROMIUM):
	if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" examples/contoso/demo.sh $(DEMO_DIR)

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check src tests action
	$(BIN)/ruff format --check src tests action
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not emulator and not slow" tests/unit tests/review tests/cli

# The Azure SDK's own tests (azure-keyvault-administration, azure-keyvault-keys), unchanged, live against
# the emulator: pinned sdists downloaded at test time into out/compat-sdk, run from their own venv.
# Not in `test` (downloads; about a minute or two). See scripts/compat/run_sdk_tests.py.
COMPAT := .venv-compat
test-compat-sdk: $(STAMP)
	test -x $(COMPAT)/bin/python || $(PYTHON) -m venv $(COMPAT)
	$(COMPAT)/bin/python -m pip install --quiet -r scripts/compat/sdk-requirements.txt
	$(BIN)/python scripts/compat/run_sdk_tests.py --python $(COMPAT)/bin/python

# The suite on the lowest versions pyproject allows for every direct dependency (uv's
# lowest-direct resolution), in a separate venv. Slow (installs, then the whole suite): not in `test`.
LOWEST := .venv-lowest
test-lowest: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pip install --quiet uv
	rm -rf $(LOWEST)
	UV_PYTHON_DOWNLOADS=never $(BIN)/uv venv --quiet --seed --python $(PYTHON) $(LOWEST)
	$(BIN)/uv pip install --quiet --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[dev]'
	$(BIN)/uv pip list --python $(LOWEST)/bin/python
	$(LOWEST)/bin/python -m pytest -p no:cacheprovider

# The suite on each supported Python this machine has: python3.X on PATH, or pyenv's install of it.
PYTHONS ?= 3.11 3.12 3.13
test-pythons: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pip install --quiet uv
	set -e; for v in $(PYTHONS); do \
	  py=$$(python$$v -c 'import sys; print(sys.executable)' 2>/dev/null || \
	        ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v.*/bin/python$$v 2>/dev/null | tail -1); \
	  if [ -z "$$py" ]; then echo "python$$v: not installed here, skipped"; continue; fi; \
	  UV_PYTHON_DOWNLOADS=never $(BIN)/uv venv --quiet --seed --allow-existing --python "$$py" .venv-py$$v; \
	  $(BIN)/uv pip install --quiet --python .venv-py$$v/bin/python -e '.[dev]'; \
	  echo "== Python $$v ($$py)"; .venv-py$$v/bin/python -m pytest -p no:cacheprovider; \
	done

# The real Azure CLI (pinned, from the package index, in its own venv) against the emulator:
# `az cloud register` from the emulator's /metadata/endpoints, `az login --service-principal`, then
# `az keyvault role assignment|definition ...` and `az ad ...`, each answer checked
# (tests/compat/azure_cli_checks.py). Prints "N passed, M failed". Not in `test`: it installs az.
AZURE_CLI_VERSION ?= 2.91.0
AZCLI_VENV := .venv-azcli
AZCLI_STAMP := $(AZCLI_VENV)/.installed-$(AZURE_CLI_VERSION)
$(AZCLI_STAMP):
	rm -rf $(AZCLI_VENV)
	$(PYTHON) -m venv $(AZCLI_VENV)
	$(AZCLI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AZCLI_VENV)/bin/python -m pip install --quiet 'azure-cli==$(AZURE_CLI_VERSION)'
	touch $@

test-compat-cli: $(STAMP) $(AZCLI_STAMP)
	$(BIN)/python -m tests.compat.azure_cli --az $(AZCLI_VENV)/bin/az

# Clients nobody here wrote, against the emulator: the Azure SDK's own tests, then the Azure CLI.
# Both always run (make -k semantics inside): each prints its passed/total and fails on any failure.
test-compat: $(STAMP)
	status=0; $(MAKE) --no-print-directory test-compat-sdk || status=1; \
	$(MAKE) --no-print-directory test-compat-cli || status=1; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check src tests action
	$(BIN)/ruff format --check src tests action

format: $(STAMP)
	$(BIN)/ruff format src tests action
	$(BIN)/ruff check --fix src tests action

typecheck: $(STAMP)
	$(BIN)/mypy

schemas: $(STAMP)
	$(BIN)/hsmsync schema manifest > schemas/hsmsync.schema.json
	$(BIN)/hsmsync schema state > schemas/state.schema.json
	for kind in plan drift lint; do $(BIN)/hsmsync schema $$kind > schemas/$$kind.schema.json; done

# `make bench`: the planner alone, hsmsync's CPU per list call alone (and on azure-core's default
# session), the fleet at 20 and 50 HSMs, 200 HSMs in 4 shards (one hsmsync process per shard, one
# after another), `plan` by number of changes. About 25 minutes. Subsets: `make bench
# BENCH_FLEETS=5 BENCH_SHARDS=8:2 BENCH_PARTS=fleet` (parts: planner calls fleet shards changes).
BENCH_FLEETS ?= 20 50
BENCH_SHARDS ?= 200:4
BENCH_PARTS ?= planner calls fleet shards changes
bench: $(STAMP)
	@case " $(BENCH_PARTS) " in *" planner "*) $(BIN)/python bench/planner.py;; esac
	@case " $(BENCH_PARTS) " in *" calls "*) $(BIN)/python bench/call_cost.py --compare;; esac
	@case " $(BENCH_PARTS) " in *" fleet "*) for n in $(BENCH_FLEETS); do \
	  echo "== fleet: $$n HSMs"; $(BIN)/python bench/fleet.py --hsms $$n || exit 1; done;; esac
	@case " $(BENCH_PARTS) " in *" shards "*) for s in $(BENCH_SHARDS); do \
	  echo "== fleet: $${s%%:*} HSMs in $${s##*:} shards"; \
	  $(BIN)/python bench/fleet.py --hsms $${s%%:*} --shards $${s##*:} || exit 1; done;; esac
	@case " $(BENCH_PARTS) " in *" changes "*) $(BIN)/python bench/changes.py;; esac

clean:
	rm -rf $(VENV) $(LOWEST) $(AZCLI_VENV) $(COMPAT) .venv-py3.* out .pytest_cache .mypy_cache .ruff_cache

# The Azure built-in role catalog from Microsoft's published definitions (needs a checkout of
# MicrosoftDocs/azure-docs; see scripts/refresh_roles.py). Review the diff, then commit it.
refresh-roles: $(STAMP)
	@test -n "$(AZURE_DOCS)" || { echo "usage: make refresh-roles AZURE_DOCS=<checkout of MicrosoftDocs/azure-docs>"; exit 1; }
	$(BIN)/python scripts/refresh_roles.py "$(AZURE_DOCS)"
