# gevent_c: every target is idempotent and works on a fresh Debian machine
# as root. Python work happens in per-version virtual environments under
# .venv/ (tools/dev.py); the system interpreter is never modified.
PYTHON      ?= python3
DEV         := $(PYTHON) tools/dev.py
APT_PKGS    := libev-dev libc-ares-dev pkg-config redis-server postgresql
PYTEST_ARGS ?=

.PHONY: all sysdeps deps build run test test-current compat test-aarch64 bench clean

all: build

sysdeps:  ## install libev, c-ares, pkg-config (build), redis-server and postgresql (tests) with apt-get when missing
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "sysdeps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

deps: sysdeps  ## make (or refresh) the virtual environment of $(PYTHON) in .venv/X.Y
	@$(DEV) venv

build: deps  ## compile the C extensions in place (DEBUG=1: -O0 -g, assertions on)
	@$(DEV) exec -- -c "import gevent_c._core, gevent_c._greenlet, gevent_c._ares"

run: sysdeps  ## the demos: gevent's API on one thread, then an unmodified threaded stdlib program under patch_all()
	@$(DEV) exec -- examples/demo.py
	@echo
	@$(DEV) exec -- examples/patched_urllib.py

test: sysdeps  ## THE test command: the suite and greenlet's own on $(PYTHON) and every other supported CPython found; gevent's own suite on $(PYTHON)
	@$(DEV) test --versions all --compat -- $(PYTEST_ARGS)

test-current: sysdeps  ## the suite on $(PYTHON) only
	@$(DEV) test --versions current -- $(PYTEST_ARGS)

compat: sysdeps  ## greenlet's and gevent's own suites against gevent_c, on $(PYTHON)
	@$(DEV) exec -- -m tests.compat.greenlet_suite
	@$(DEV) exec -- -m tests.compat.gevent_suite --jobs 2

test-aarch64:  ## coroutine, core and hub tests and greenlet's suite on arm64 under qemu-user (root cached in .cache/aarch64)
	@bash tools/aarch64.sh $(PYTEST_ARGS)

bench: sysdeps  ## time gevent_c against gevent, greenlet, asyncio and uvloop (BENCH_ARGS=... for the harness)
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	@$(DEV) exec -- -m pip install -q --disable-pip-version-check --group bench
	@$(DEV) exec -- -m benchmarks $(BENCH_ARGS)

clean:  ## remove build products and the virtual environments
	rm -rf build *.egg-info gevent_c/*.so .pytest_cache .venv
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# ---- reliability: sanitizers and soak (tools/sanitize.py, tools/soak.py) ----
ASAN_BUDGET     ?= 600
VALGRIND_BUDGET ?= 900
SOAK_SECONDS    ?= 600

.PHONY: asan valgrind soak soak-short

asan: sysdeps  ## C-heavy tests with the extensions built under ASan+UBSan in build/asan-X.Y (the in-place build is untouched)
	@$(DEV) exec -- tools/sanitize.py asan --budget $(ASAN_BUDGET) $(PYTEST_ARGS)

valgrind: sysdeps  ## greenlet and core tests under memcheck; fails on an error with a gevent_c frame
	@command -v valgrind >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind)
	@$(DEV) exec -- tools/sanitize.py valgrind --budget $(VALGRIND_BUDGET) $(PYTEST_ARGS)

soak: sysdeps  ## SOAK_SECONDS of mixed load, then RSS, gc objects, fds and watchers against the start
	@$(DEV) exec -- tools/soak.py --seconds $(SOAK_SECONDS)

soak-short: sysdeps  ## the 20-second soak CI runs
	@$(DEV) exec -- tools/soak.py --seconds 20
