# Two commands matter: `make lab` (set up, then open the course) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NB_CELL_TIMEOUT ?= 300
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
# No browser without a display (a server, CI, WSL without a desktop): the URL is printed instead.
BROWSER_FLAG := $(shell if [ "$$(uname)" = Darwin ] || [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then true; else echo --no-browser; fi)
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
CHROMIUM := /usr/bin/chromium

.PHONY: help setup lab test lint format pytest-all bench exercises site clean

help:
	@echo "make lab    set everything up and open JupyterLab on lesson 00"
	@echo "make test   set everything up, then lint, pytest and nbval"
	@echo "make bench  print measured ratios (name=value lines)"
	@echo "make site   run the whole course and render it to .lab/site/index.html"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10+ is needed, found " + sys.version.split()[0])'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    rm -rf $(VENV); apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); \
	  else echo "'$(PYTHON) -m venv' failed: install your distribution's python3-venv package"; rm -rf $(VENV); exit 1; fi; }

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

$(LAB_SETTINGS):
	@mkdir -p $(dir $@)
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

setup: $(STAMP) $(LAB_SETTINGS)
	@$(PY) -m labsupport.prereqs

lab: setup
	$(PY) -m labsupport.lab run -- $(PY) -m jupyter lab --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/notebooks/00_lab_check.ipynb \
	  --ServerApp.ip=127.0.0.1 $(BROWSER_FLAG) $(ROOT_FLAG)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The browser test drives Debian's chromium, never a downloaded browser; without it the test skips (fails under CI).
$(CHROMIUM):
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "Installing chromium for the browser test"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "No $@: the browser test will skip (install chromium, or set LAB_CHROMIUM to one)"; fi

test: setup lint $(CHROMIUM)
	$(PY) -m labsupport.lab run -- $(MAKE) --no-print-directory pytest-all

# Runs beside the brokers that `make test` started: tests/run_all.sh says what runs where.
WORKERS ?= 3
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=$(NB_CELL_TIMEOUT) -p no:cacheprovider
pytest-all:
	PY=$(PY) WORKERS=$(WORKERS) NBVAL="$(NBVAL)" bash tests/run_all.sh

bench: setup
	@$(PY) -m labsupport.prereqs --bench
	$(PY) -m labsupport.bench

# The executed course as static HTML with every plot, from a fresh run; built, never committed.
site: setup
	$(PY) -m labsupport.lab run -- $(PY) -m labsupport.site

exercises: setup
	$(PY) -m labsupport.authoring

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	-$(PY) -m labsupport.lab down
	rm -rf .lab
