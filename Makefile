# The two commands of the README. Each sets up what it needs on a fresh machine (venv, pip, npm).
#   make demo   — the local demo on the embedded engine
#   make test   — everything CI runs (.ci/run calls this)
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml package-lock.json | cksum | cut -d' ' -f1)
export SAM_CLI_TELEMETRY := 0
export SAM_CLI_CONTAINER_CONNECTION_TIMEOUT := 1

.PHONY: demo test lint typecheck unit validate security build bench bench-deploy bench-ecs bench-rollback bench-slack diagram setup

$(STAMP):
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	npm ci --silent --no-audit --no-fund
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/harbormaster local demo

test: lint typecheck unit validate security build

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/harbormaster/harbormaster

unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist worksteal -q  # worksteal: the long e2e tests do not pile up on one core

validate: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" sam validate --lint
	for file in statemachines/*.asl.json; do npx --no-install asl-validator --json-path "$$file" || exit 1; done

# checkov in its own venv: its dependencies would fight the stack's pinned ones.
CHECKOV := .venv-checkov/.installed-3.3.30
$(CHECKOV):
	python3 -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check checkov==3.3.30
	touch $(CHECKOV)

security: $(CHECKOV)  # cfn-lint runs in `validate` (sam validate --lint); skipped checkov checks are explained in .checkov.yaml
	.venv-checkov/bin/checkov -f template.yaml --config-file .checkov.yaml 2>/dev/null

build: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" sam build

bench: $(STAMP) build
	$(BIN)/python bench/cold_start.py

bench-deploy: $(STAMP)
	$(BIN)/python bench/deploy.py

bench-ecs: $(STAMP)
	$(BIN)/python bench/ecs_deploy.py

bench-slack: $(STAMP)
	$(BIN)/python bench/slack.py

bench-rollback: $(STAMP)
	$(BIN)/python bench/rollback.py

diagram:  # docs/architecture.{svg,png} from docs/architecture.dot (needs Graphviz: apt-get install graphviz)
	dot -Tsvg docs/architecture.dot -o docs/architecture.svg
	dot -Tpng -Gdpi=110 docs/architecture.dot -o docs/architecture.png
