# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR := var/demo
DEMO_SMTP_PORT ?= 2526
DEMO_MEMBERS ?= 2000
DEMO_SEED ?= 1
DEMO_DAYS ?= 7
DEMO_ENCODES ?= 3
DEMO_VIEWERS ?= 4
ADDR ?= 127.0.0.1:8000

.PHONY: install demo demo-data test lint format system-packages chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,demo]'
	touch $(STAMP)

install: $(STAMP)

# Browser tests drive Debian's chromium (Playwright's own browser download does not work here);
# label tests render PDFs with poppler and read the barcodes back with zbar; streaming encodes
# with ffmpeg and keeps its leases in a redis-server the tests start.
SYSTEM_PACKAGES := chromium poppler-utils zbar-tools ffmpeg redis-server
SYSTEM_COMMANDS := chromium pdftoppm zbarimg ffmpeg redis-server
system-packages:
	@missing=""; for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES); \
	  else echo "missing: sudo apt-get install $(SYSTEM_PACKAGES) (the tests and the demo need them)"; exit 1; fi; fi
chromium: system-packages

# A fresh demo business on SQLite, then the site on $(ADDR).
demo-data: install system-packages
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope migrate
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope demo-data --members $(DEMO_MEMBERS) --seed $(DEMO_SEED) \
	  --today $$(TZ=$${TIME_ZONE:-America/Los_Angeles} date -d "-$$((2 * $(DEMO_DAYS))) days" +%F)
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope demo-streaming --titles $(DEMO_ENCODES)
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope demo-workforce
	# DEMO_DAYS as the business was, the planner's recommendations applied, DEMO_DAYS after
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope simulate --days $(DEMO_DAYS) \
	  --start $$(TZ=$${TIME_ZONE:-America/Los_Angeles} date -d "-$$((2 * $(DEMO_DAYS) - 1)) days" +%F)
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope demo-plan \
	  --day $$(TZ=$${TIME_ZONE:-America/Los_Angeles} date -d "-$$(($(DEMO_DAYS) - 1)) days" +%F)
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope simulate --days $(DEMO_DAYS) \
	  --start $$(TZ=$${TIME_ZONE:-America/Los_Angeles} date -d "-$$(($(DEMO_DAYS) - 1)) days" +%F)
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope demo-support
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope recs train
	# the demo's affiliate hold is 3 days (30 by default), so finance can run a payout at once
	AFFILIATE_HOLD_DAYS=3 REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope demo-growth
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope demo-payables
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope insight refresh
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope check

demo: demo-data
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope demo-logins --addr $(ADDR)
	REDENVELOPE_DATA_DIR=$(DEMO_DIR) $(BIN)/redenvelope serve $(ADDR) --viewers $(DEMO_VIEWERS) \
	  --smtp $(DEMO_SMTP_PORT) --worker

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install system-packages
	$(BIN)/ruff check .
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var build *.egg-info src/*.egg-info
