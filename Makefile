# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch; a looser request can pull a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: venv install test lint typecheck pytest demo docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

EXTERNAL := examples/external-architecture

# The external example architecture is installed beside atomtrain (from its own
# folder, through its entry point) so that CI trains it and runs its own tests.
$(STAMP): $(PY) pyproject.toml $(EXTERNAL)/pyproject.toml
	$(PIP) install --quiet $(TORCH_PIN)
	$(PIP) install --quiet -e ".[test]"
	$(PIP) install --quiet --no-deps --no-build-isolation -e $(EXTERNAL)
	touch $(STAMP)

venv install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# pytest exits with 5 when no test was collected: that is a failure here, said plainly.
# One thread per process: several tests start training subprocesses side by side.
pytest: $(STAMP)
	@OMP_NUM_THREADS=1 $(VENV)/bin/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	exit $$rc

# The suite builds the documentation site itself, warnings as errors and tutorials
# included (tests/docs/test_build.py): no second build here.
test: lint typecheck pytest

# The documentation site; warnings are errors.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

demo: $(STAMP)
	$(VENV)/bin/python examples/demo/run_demo.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info demo-run
