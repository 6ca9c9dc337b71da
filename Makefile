# gevent_c: every target is idempotent and works on a fresh Debian machine
# as root. Python work happens in per-version virtual environments under
# .venv/ (tools/dev.py); the system interpreter is never modified.
PYTHON      ?= python3
DEV         := $(PYTHON) tools/dev.py
APT_PKGS    := libev-dev libc-ares-dev pkg-config
PYTEST_ARGS ?=

.PHONY: all sysdeps deps build run test test-current test-aarch64 bench clean

all: build

sysdeps:  ## install libev, c-ares and pkg-config with apt-get when missing
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

run: sysdeps  ## the demo: a plain stdlib-style program made concurrent
	@$(DEV) exec -- examples/demo.py

test: sysdeps  ## THE test command: the suite on $(PYTHON), then on every other supported CPython found
	@$(DEV) test --versions all -- $(PYTEST_ARGS)

test-current: sysdeps  ## the suite on $(PYTHON) only
	@$(DEV) test --versions current -- $(PYTEST_ARGS)

test-aarch64:  ## coroutine, core and hub tests and greenlet's suite on arm64 under qemu-user (root cached in .cache/aarch64)
	@bash tools/aarch64.sh $(PYTEST_ARGS)

bench: sysdeps  ## time gevent_c against gevent, greenlet, asyncio and uvloop
	@$(DEV) exec -- -m pip install -q --disable-pip-version-check --group bench
	@$(DEV) exec -- -m benchmarks $(BENCH_ARGS)

clean:  ## remove build products and the virtual environments
	rm -rf build *.egg-info gevent_c/*.so .pytest_cache .venv
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
