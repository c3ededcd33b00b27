# Two commands do everything on a fresh machine: `make report` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
UV := python3 -m uv

.PHONY: venv report test lint golden bench sample screenshots clean

$(STAMP): pyproject.toml requirements.lock setup.py mdcnb/normalize/cloudtrail/_jsonscan.c mdcnb/normalize/_assessscan.c
	python3 -m pip install --quiet --disable-pip-version-check uv || true
	$(UV) --version >/dev/null 2>&1 || { echo "uv unavailable: falling back to pip"; \
	  python3 -m venv $(VENV) && $(PY) -m pip install --quiet -r requirements.lock && \
	  $(PY) -m pip install --quiet --no-deps -e . && touch $@ && exit 0; }
	test -x $(PY) || $(UV) venv --quiet --python python3 $(VENV)
	$(UV) pip install --quiet --python $(PY) -r requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv: $(STAMP)

## make report: set up, then run the weekly report on the embedded sample tenant
report: $(STAMP)
	$(VENV)/bin/mdcnb report

## make test: lint, unit, live-path, notebook regression (nbval) and browser tests; then the CloudTrail scan and
## assessment reader tests again with the native readers turned off (MDCNB_NATIVE=0: msgspec reads every file, line)
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	MDCNB_NATIVE=0 $(VENV)/bin/pytest -p no:cacheprovider tests/test_cloudtrail_scan.py tests/test_cloudtrail_sample.py \
	  tests/test_assessment_scan.py tests/test_assessment_columns.py tests/test_pooled_normalise.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

## make golden: refresh the stored nbval copies of the notebooks after an intended change
golden: $(STAMP)
	$(PY) -m mdcnb.report.golden

## make screenshots: the sample's report in headless Chromium at 1366x768, one PNG per page in docs/screenshots/
screenshots: $(STAMP)
	$(PY) -m mdcnb.report.browser --out docs/screenshots --report reports/screenshots

## make sample: regenerate the embedded sample tenant under data/sample
sample: $(STAMP)
	$(VENV)/bin/mdcnb sample --out data/sample

# Every benchmark (benchmarks/_*.py are helpers), then the README's performance section from their results.
bench: $(STAMP)
	for b in $(filter-out benchmarks/_% benchmarks/readme.py,$(wildcard benchmarks/*.py)); do $(PY) $$b || exit 1; done
	$(PY) benchmarks/readme.py

clean:
	rm -rf $(VENV) reports .pytest_cache
