# Switchboard: `make run` (local Prosody + component + demo accounts) and `make test`.
# Both install what is missing first: Debian packages (as root) and a virtualenv.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STATE  ?= state/dev
# ejabberd: the boundary suites also run behind it, and it hosts the remote users of the
# federation suite; lua-unbound: Prosody's s2s resolver reads a hosts file only through it;
# erlang-p1-pgsql: ejabberd's PostgreSQL driver, for its archive in `make bench` (ejabberd scenario).
DEBIAN_PACKAGES := prosody prosody-modules lua-dbi-sqlite3 postgresql chromium ejabberd erlang-p1-pgsql \
                   lua-unbound systemd
# The suites that exercise the server boundary, run again behind ejabberd; tests/balancing runs
# only there (it needs ejabberd's domain_balancing and brings its own ejabberd and PostgreSQL).
EJABBERD_SUITES := tests/muc tests/mam tests/recall tests/support tests/admin \
	tests/test_cli_and_connection.py tests/test_server_boundary.py tests/test_pacing.py tests/balancing


.PHONY: run test test-sqlite test-postgresql test-ejabberd test-federation install system-deps venv web bench clean help

help:
	@echo "make run    start Prosody, the component and demo accounts (foreground, Ctrl-C stops)"
	@echo "make test   install, then run the whole test suite"
	@echo "make bench  benchmarks side by side with Prosody's own modules"

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root, or: sudo apt-get install$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# The package starts a system ejabberd on 5222/5269/5280 (all addresses); the tests run
	@# their own and the federation suite needs 5269 on loopback: keep the packaged one off.
	@if [ "$$(id -u)" = 0 ] && [ -x /usr/sbin/ejabberdctl ]; then \
	  if command -v systemctl >/dev/null && systemctl is-enabled ejabberd >/dev/null 2>&1; then \
	    systemctl disable --now ejabberd >/dev/null 2>&1 || true; fi; \
	  if [ -x /etc/init.d/ejabberd ] && /etc/init.d/ejabberd status >/dev/null 2>&1; then \
	    /etc/init.d/ejabberd stop >/dev/null 2>&1 || true; update-rc.d ejabberd disable >/dev/null 2>&1 || true; fi; \
	fi

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

# The browser parts (web/): installed exactly from the lock file and bundled by one command.
# Debian's nodejs lacks npm (NodeSource's includes it), hence the check on the command.
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/build.mjs web/package.json web/package-lock.json
web/dist/.built: $(WEB_SOURCES)
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root, or: sudo apt-get install nodejs npm" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; }
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	@touch $@

web: web/dist/.built

install: system-deps venv web

run: install
	$(VENV)/bin/switchboard dev --state $(STATE)

# Tests mostly wait on the network (Prosody, timers), so a few workers per pass keep two cores busy;
# each worker starts its own Prosody (and PostgreSQL) on free ports. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 4
# loadgroup: tests marked xdist_group (the browser tests, one Chromium per module) stay on one worker.
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

# The whole suite on SQLite, then again on a real PostgreSQL server that the
# test session starts and throws away.
test: install
	$(PYTEST) $(PYTEST_ARGS)
	SWITCHBOARD_TEST_BACKEND=postgresql $(PYTEST) $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-ejabberd test-federation

# The boundary suites behind ejabberd (SQLite; storage is already covered twice above).
test-ejabberd: install
	SWITCHBOARD_TEST_SERVER=ejabberd $(PYTEST) $(EJABBERD_SUITES) $(PYTEST_ARGS)

# Prosody (with the component) and ejabberd (remote users) federating over loopback. One process:
# both servers need 5269 on their own address. Root only (it names the servers in /etc/hosts).
test-federation: install
	SWITCHBOARD_TEST_FEDERATION=1 $(PY) -m pytest tests/federation $(PYTEST_ARGS)

test-sqlite: install
	$(PYTEST) $(PYTEST_ARGS)

test-postgresql: install
	SWITCHBOARD_TEST_BACKEND=postgresql $(PYTEST) $(PYTEST_ARGS)

bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) state build *.egg-info .pytest_cache web/node_modules web/dist
