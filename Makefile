# The two commands of the README. Each sets up what it needs on a fresh machine (venv, pip, npm).
#   make demo   — the local demo on the embedded engine
#   make test   — everything CI runs (.ci/run calls this)
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements-dev.lock package-lock.json | cksum | cut -d' ' -f1)
# Runtime packages the Lambda runtime provides: the layer does not ship them.
RUNTIME_PROVIDED := boto3 botocore s3transfer jmespath python-dateutil six urllib3
export SAM_CLI_TELEMETRY := 0
export SAM_CLI_CONTAINER_CONNECTION_TIMEOUT := 1

.PHONY: lock demo test tools lint typecheck unit validate security build bench-all bench-cold-start bench-deploy bench-ecs bench-rollback bench-scheduler bench-slack diagram setup

$(STAMP):
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	npm ci --silent --no-audit --no-fund
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

# The lock files, from pyproject.toml and layers/harbormaster/requirements.in (pinned, hashed for
# every platform): the dev environment installs from requirements-dev.lock, the layer from its
# requirements.txt. Run after changing a dependency.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes \
		--no-header --quiet -o requirements-dev.lock
	$(BIN)/uv pip compile layers/harbormaster/requirements.in --universal --python-version 3.13 --generate-hashes \
		--no-header --quiet $(addprefix --no-emit-package ,$(RUNTIME_PROVIDED)) -o layers/harbormaster/requirements.txt

demo: $(STAMP)
	$(BIN)/harbormaster local demo

test: tools
	@$(MAKE) --no-print-directory lint typecheck unit validate security build

# Both environments at once on a fresh checkout: the installs wait on the network, not the CPU.
tools:
	@$(MAKE) --no-print-directory -j2 $(STAMP) $(CHECKOV)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/harbormaster/harbormaster

unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist worksteal -q  # worksteal: the long e2e tests do not pile up on one core

validate: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" sam validate --lint
	$(BIN)/cfn-lint spoke.yaml
	for file in statemachines/*.asl.json; do npx --no-install asl-validator --json-path "$$file" || exit 1; done

# checkov in its own venv: its dependencies would fight the stack's pinned ones.
CHECKOV := .venv-checkov/.installed-3.3.30
$(CHECKOV):
	python3 -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check checkov==3.3.30
	touch $(CHECKOV)

security: $(CHECKOV)  # cfn-lint runs in `validate` (sam validate --lint); skipped checkov checks are explained in .checkov.yaml
	.venv-checkov/bin/checkov -f template.yaml -f spoke.yaml --config-file .checkov.yaml 2>/dev/null

build: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" sam build

# Every bench; writes bench/results.json and the README's measured figures (about 10 minutes).
bench-all: $(STAMP) build
	$(BIN)/python bench/all.py

bench-cold-start: $(STAMP) build
	$(BIN)/python bench/cold_start.py

bench-deploy: $(STAMP)
	$(BIN)/python bench/deploy.py

bench-ecs: $(STAMP)
	$(BIN)/python bench/ecs_deploy.py

bench-slack: $(STAMP)
	$(BIN)/python bench/slack.py

bench-scheduler: $(STAMP)
	$(BIN)/python bench/scheduler.py

bench-rollback: $(STAMP)
	$(BIN)/python bench/rollback.py

diagram:  # docs/architecture.{svg,png} from docs/architecture.dot (needs Graphviz: apt-get install graphviz)
	dot -Tsvg docs/architecture.dot -o docs/architecture.svg
	dot -Tpng -Gdpi=110 docs/architecture.dot -o docs/architecture.png
