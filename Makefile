# gevent_c: every target is idempotent and works on a fresh machine as root.
PYTHON     ?= python3
PY312      ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)/versions/3.12.1/bin/python3
VENV312    := .venv312
APT_PKGS   := libev-dev libc-ares-dev pkg-config
PYTEST_ARGS ?=

.PHONY: all deps sysdeps build run test test312 bench clean

all: build

sysdeps:  ## install libev, c-ares and pkg-config with apt-get when missing
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: system packages present ($(APT_PKGS))"; fi

deps: sysdeps  ## system packages, then gevent_c editable with the test extras
	$(PYTHON) -m pip install -q -e '.[test]'

build:  ## compile the C extensions in place (DEBUG=1: -O0 -g, assertions on)
	$(PYTHON) setup.py -q build_ext --inplace

run: deps build  ## the demo
	$(PYTHON) examples/demo.py

test: deps build  ## THE test command: the suite on python3 (3.11), then on 3.12
	$(PYTHON) -m pytest $(PYTEST_ARGS)
	$(MAKE) test312

test312:  ## the suite on CPython 3.12 (separate venv)
	@if [ ! -x $(PY312) ]; then echo "test312: $(PY312) missing" >&2; exit 1; fi
	@[ -x $(VENV312)/bin/python ] || $(PY312) -m venv $(VENV312)
	$(VENV312)/bin/python -m pip install -q 'setuptools>=68' wheel
	$(VENV312)/bin/python -m pip install -q -e '.[test]'
	$(VENV312)/bin/python setup.py -q build_ext --inplace --build-temp build/temp312
	$(VENV312)/bin/python -m pytest $(PYTEST_ARGS)

bench: deps build  ## time gevent_c against gevent, greenlet, asyncio and uvloop
	$(PYTHON) -m pip install -q -e '.[bench]'
	$(PYTHON) -m benchmarks

clean:  ## remove build products
	rm -rf build *.egg-info gevent_c/*.so .pytest_cache $(VENV312)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
