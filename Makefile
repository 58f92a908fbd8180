# Set-up and entry points. torch==2.13.0 is installed first: it is the local
# CPU wheel, and any other torch spec downloads gigabytes of CUDA packages.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
OUT ?= demo-out

.PHONY: install install-test demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

# Tests also install the optional bm3d extra (non-commercial licence) so that it is tested.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test,bm3d]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/archive-restore demo --out $(OUT)

test: install-test
	PREFECT_HOME=$$(mktemp -d) PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/python -m pytest -q

bench: install-test
	$(BIN)/python bench/demo_benchmark.py

clean:
	rm -rf $(VENV) $(OUT) bench/out
