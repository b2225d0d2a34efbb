# Two entry points: `make demo` (the main job) and `make test` (the whole suite).
# Setup is idempotent: the venv is (re)built only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test clean clean-cache

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first, pinned to the CPU build on local disk; never replace one already there
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,distributed]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/testbed run suites/big-question.toml --out results/big-question

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

# kernels and trained models live in $TESTBED_CACHE (default ~/.cache/nn-vs-digital-testbed); see README
clean:
	rm -rf $(VENV) results

clean-cache:
	rm -rf "$${TESTBED_CACHE:-$$HOME/.cache/nn-vs-digital-testbed}"
