# Fieldbench: the two README commands are `make run` and `make test`.
# Every target bootstraps what it needs and is a fast no-op when up to date.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST_BUILD := build/host
ASAN_BUILD := build/host-asan
FIRMWARE_SOURCES := $(shell find firmware/components firmware/host firmware/ports firmware/fuzz -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name 'CMakeLists.txt' \) 2>/dev/null)

.PHONY: run test lint format bench bench-full asan clean setup system firmware-host fuzz cross soak

run: setup
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ] && [ -z "$$QT_QPA_PLATFORM" ]; then \
	  echo "fieldbench: no display found (DISPLAY/WAYLAND_DISPLAY unset); starting offscreen."; \
	  echo "  run it under a desktop session, or: xvfb-run make run"; \
	  export QT_QPA_PLATFORM=offscreen; fi; \
	$(VENV)/bin/fieldbench --sample

test: setup $(VENV)/.stamp-train $(ASAN_BUILD)/.stamp
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

# Freestanding Cortex-M4F build of the portable firmware code; prints text/data/bss.
cross:
	@scripts/bootstrap-system.sh gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
	firmware/cross/build.sh build/cross

# The power-cut campaign with many more random seeds than CI's 1,000 (SOAK_SEEDS).
SOAK_SEEDS ?= 100000
soak: $(HOST_BUILD)/.stamp
	$(HOST_BUILD)/node/test_node_campaign --seeds $(SOAK_SEEDS)

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

# make test also installs the [train] extra (CPU torch); make run works without it.
$(VENV)/.stamp-train: $(VENV)/.stamp-deps
	$(PY) -m pip install -q -e '.[dev,train]'
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

# libFuzzer on the INT8 model blob parser (Debian clang, installed on demand; not in `make test`).
# Crashing inputs are kept in firmware/fuzz/regressions/ and replayed by ctest (rt_fuzz_regressions).
# Another target: add its source to FUZZ_TARGETS (name = file stem in firmware/fuzz/).
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= fuzz_model_blob
FUZZ_RT_SRCS := $(addprefix firmware/components/edge_runtime/src/,runtime/model_parser.cpp \
  runtime/inference_runtime.cpp reference/int8_kernels.cpp pool.cpp)
fuzz:
	@scripts/bootstrap-system.sh clang libclang-rt-dev
	@mkdir -p $(FUZZ_BUILD) firmware/fuzz/regressions
	@for t in $(FUZZ_TARGETS); do \
	  clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -ffp-contract=off -Ifirmware/components/edge_runtime/include \
	    firmware/fuzz/$$t.cpp $(FUZZ_RT_SRCS) -o $(FUZZ_BUILD)/$$t || exit 1; \
	  rm -rf $(FUZZ_BUILD)/$$t-corpus && mkdir -p $(FUZZ_BUILD)/$$t-corpus && \
	  cp firmware/fuzz/seeds/* $(FUZZ_BUILD)/$$t-corpus/ && \
	  $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1 \
	    -artifact_prefix=firmware/fuzz/regressions/$$t- $(FUZZ_BUILD)/$$t-corpus || exit 1; \
	done
