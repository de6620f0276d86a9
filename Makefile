# isobench: `make experiment` runs an experiment, `make test` checks the project.
# Both create the virtual environment (.venv) and install what they need first.

VENV     ?= .venv
PYTHON   ?= python3
HOSTS    ?= local
PROFILE  ?= quick
RESULTS  ?= results
RUN_ID   ?=
RESUME   ?=
RUN      ?=
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.isobench-installed

.PHONY: experiment report validate plan clean-hosts test test-fast lint clean help

help:
	@echo "make experiment [HOSTS=local|lab|PATH] [PROFILE=quick|paper|PATH] [RUN_ID=name]"
	@echo "make experiment RESUME=<run-id>      run only the cells of that run without a valid result"
	@echo "make report RUN=results/<run-id> [POOL=1]  rebuild a run's report (POOL: pool identical hosts)"
	@echo "make clean-hosts [HOSTS=local|lab|PATH] remove everything isobench left on the hosts"
	@echo "                                      (every run; dockerd and libvirtd keep running)"
	@echo "make test                             lint + every test (unit and end-to-end)"
	@echo "make test-fast                        lint + unit tests only"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "installing python3-venv (needs apt and root)"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

experiment: $(STAMP)
ifneq ($(RESUME),)
	$(BIN)/isobench run --resume $(RESUME) --results $(RESULTS) \
	  $(if $(filter command line,$(origin HOSTS)),--inventory $(HOSTS))
else
	$(BIN)/isobench run --profile $(PROFILE) --inventory $(HOSTS) --results $(RESULTS) \
	  $(if $(RUN_ID),--run-id $(RUN_ID))
endif

report: $(STAMP)
	@test -n "$(RUN)" || { echo "usage: make report RUN=results/<run-id>"; exit 2; }
	$(BIN)/isobench report $(RUN) $(if $(POOL),--pool-hosts)

validate: $(STAMP)
	$(BIN)/isobench validate $(PROFILE) --inventory $(HOSTS)

plan: $(STAMP)
	$(BIN)/isobench plan --profile $(PROFILE) --inventory $(HOSTS)

# Containers, images, guests, networks, mounts, processes, work folders and userlands of
# every run; see playbooks/clean-hosts.yml. Keeps the daemons and installed packages.
clean-hosts: $(STAMP)
	$(BIN)/isobench clean-hosts --inventory $(HOSTS)

lint: $(STAMP)
	$(BIN)/ruff check analysis tests plugins bench
	$(BIN)/ruff format --check analysis tests plugins bench
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/ansible-lint --profile production --offline playbooks roles

test: lint
	$(BIN)/pytest -ra --durations=15

test-fast: lint
	$(BIN)/pytest -ra -m "not slow"

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
