# Fieldbench: the two README commands are `make run` and `make test`.
# Every target bootstraps what it needs and is a fast no-op when up to date.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST_BUILD := build/host
ASAN_BUILD := build/host-asan
FIRMWARE_SOURCES := $(shell find firmware/components firmware/host -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name 'CMakeLists.txt' \) 2>/dev/null)

.PHONY: run test lint format bench bench-full asan clean setup system firmware-host

run: setup
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ] && [ -z "$$QT_QPA_PLATFORM" ]; then \
	  echo "fieldbench: no display found (DISPLAY/WAYLAND_DISPLAY unset); starting offscreen."; \
	  echo "  run it under a desktop session, or: xvfb-run make run"; \
	  export QT_QPA_PLATFORM=offscreen; fi; \
	$(VENV)/bin/fieldbench --sample

test: setup $(ASAN_BUILD)/.stamp
	$(PY) -m pytest -q -p no:cacheprovider
	ctest --test-dir $(HOST_BUILD) --output-on-failure
	ctest --test-dir $(ASAN_BUILD) --output-on-failure

lint: setup
	$(VENV)/bin/ruff check core gui tests benchmarks packaging
	$(VENV)/bin/ruff format --check core gui tests benchmarks packaging
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff format core gui tests benchmarks packaging
	$(VENV)/bin/ruff check --fix core gui tests benchmarks packaging

bench: setup $(VENV)/.stamp-bench
	$(PY) benchmarks/run.py

asan: $(ASAN_BUILD)/.stamp
	ctest --test-dir $(ASAN_BUILD) --output-on-failure

$(ASAN_BUILD)/.stamp: $(FIRMWARE_SOURCES) | build/.stamp-system
	cmake -S firmware/host -B $(ASAN_BUILD) -DFB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(ASAN_BUILD) -j2
	@touch $@

setup: system $(VENV)/.stamp-deps $(HOST_BUILD)/.stamp

system: build/.stamp-system

build/.stamp-system: scripts/bootstrap-system.sh
	@scripts/bootstrap-system.sh
	@mkdir -p build && touch $@

$(VENV)/.stamp-deps: pyproject.toml | build/.stamp-system
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

$(VENV)/.stamp-bench: $(VENV)/.stamp-deps
	$(PY) -m pip install -q -e '.[dev,bench]'
	@touch $@

$(HOST_BUILD)/.stamp: $(FIRMWARE_SOURCES) | build/.stamp-system
	cmake -S firmware/host -B $(HOST_BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(HOST_BUILD) -j2
	@touch $@

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
