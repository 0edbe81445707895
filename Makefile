# stylerecs: `make demo` runs the shop on the embedded default, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CHROMIUM ?= /usr/bin/chromium

# The test suite runs against the real services: PostgreSQL and Redis on loopback.
TEST_ENV := SECRET_KEY=test-only-secret-key SECURE_SSL_REDIRECT=0 SERVE_MEDIA=1 \
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/stylerecs} \
	CELERY_BROKER_URL=$${TEST_BROKER_URL:-redis://127.0.0.1:6379/15} \
	STYLERECS_VAR_DIR=$(CURDIR)/var/test

.PHONY: install demo test test-engine fuzz lint bench browser wrk clean

install: $(VENV)/.installed

# The demo and CI pin torch and torchvision exactly (constraints.txt); the package asks
# only for compatible ranges.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[worker,test]'
	touch $@

# Headless Chromium from Debian for the browser tests (never a downloaded browser).
browser:
	@test -x $(CHROMIUM) || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

demo: install
	bash bin/demo

test: install browser
	$(TEST_ENV) $(PY) -m pytest

# The fuzzing suite alone (also part of `make test`): FUZZ_SEED=<n> replays a run,
# FUZZ_EXAMPLES=<n> sets the examples per operation.
fuzz: install
	$(TEST_ENV) $(PY) -m pytest tests/fuzz

test-engine: install
	$(PY) -m pytest -p no:django tests/engine

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# The load generator of bench/storefront.py, from Debian.
wrk:
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)

bench: install wrk browser
	$(PY) -m pip install --quiet -c constraints.txt -e '.[worker,bench]'
	$(PY) bench/stylize_classic.py
	$(PY) bench/stylize.py
	$(PY) bench/quality.py --sheet docs/quality_sheet.png --cell 150
	$(PY) bench/stylize_hires.py
	$(PY) bench/stylize_int8.py
	$(PY) bench/recs.py
	$(PY) bench/recs.py --ceiling
	$(PY) bench/decode_check.py
	$(PY) bench/recs_scale.py
	$(TEST_ENV) $(PY) bench/storefront.py
	$(TEST_ENV) $(PY) bench/page_weight.py
	$(TEST_ENV) $(PY) bench/storefront.py --impressions
	$(TEST_ENV) $(PY) bench/storefront.py --impressions --buffer-url redis://127.0.0.1:6379/14

clean:
	rm -rf var/test
