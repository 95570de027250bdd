# galwidget developer commands. Every target works from a fresh clone and is idempotent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.bench-installed
NODE_MODULES := js/node_modules/.package-lock.json
BUNDLE := galwidget/static/widget.js
JS_SOURCES := $(wildcard js/src/*.ts js/src/*.css) js/package.json js/tsconfig.json js/build.mjs \
	galwidget/protocol/protocol.json js/scripts/generate_protocol.py
CHROMIUM ?= /usr/bin/chromium
JUPYTER_PORT ?= 8890

.PHONY: demo test lint js bench bench-peers chromium postgresql clean help docs

help:
	@echo "make demo   build everything and open notebooks/quickstart.ipynb in JupyterLab"
	@echo "make test   install test dependencies and run lint, JS checks and the whole pytest suite"
	@echo "make bench  run the benchmarks and write bench/results/*.json"
	@echo "make bench-peers  install embedding-atlas in bench/.peer-venv and run bench/bench_map.py"
	@echo "make docs   build the documentation site into build/site (open build/site/index.html)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(NODE_MODULES): js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund
	touch $@

$(BUNDLE): $(NODE_MODULES) $(JS_SOURCES)
	cd js && npm run build

js: $(BUNDLE)

$(INSTALLED): $(PY) pyproject.toml $(BUNDLE)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM)."; \
		echo "Install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium."; \
		exit 1; \
	fi

# The label database tests start a throwaway PostgreSQL server with Debian's initdb/pg_ctl.
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian postgresql for the label database tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "PostgreSQL is not installed: the label database tests will be skipped."; \
		echo "Install it (Debian/Ubuntu: sudo apt-get install postgresql) to run them."; \
	fi

# Style, the import layers (pyproject's import-linter contract), the type checker, the package
# structure (no import cycles, no private names across packages) and the TypeScript types.
lint: $(INSTALLED)
	$(BIN)/ruff check galwidget tests bench
	$(BIN)/ruff format --check galwidget tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider tests/test_architecture.py
	cd js && npm run typecheck

test: $(INSTALLED) chromium postgresql lint
	cd js && npm test
	GALWIDGET_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -ra

demo: $(INSTALLED)
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(JUPYTER_PORT) $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
		notebooks/quickstart.ipynb

$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/pip install --quiet -e ".[bench]"
	touch $@

# The documentation site, strict: a broken link or reference, or a public name without a
# docstring, fails the build (tests/test_docs.py runs it in make test too).
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "Open build/site/index.html"

bench: $(BENCH_INSTALLED) chromium
	GALWIDGET_CHROMIUM=$(CHROMIUM) $(PY) -m bench

# The peer tools bench/bench_map.py compares against, in their own environment as users install
# them: embedding-atlas 0.22 (its last release drawing with WebGL) and its own JupyterLab.
PEER_VENV := bench/.peer-venv
EMBEDDING_ATLAS ?= 0.22.0
$(PEER_VENV)/.installed:
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet --upgrade pip
	$(PEER_VENV)/bin/pip install --quiet "embedding-atlas==$(EMBEDDING_ATLAS)" anywidget jupyterlab ipykernel
	touch $@

bench-peers: $(PEER_VENV)/.installed $(BENCH_INSTALLED) chromium
	GALWIDGET_CHROMIUM=$(CHROMIUM) $(PY) -m bench map

clean:
	rm -rf $(VENV) js/node_modules galwidget/static .pytest_cache build/site build/docs-notebooks build/mkdocs-jupyter
