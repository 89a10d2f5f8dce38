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
	$(VENV)/bin/fieldbench twin > build/twin.log 2>&1 & twin=$$!; \
	trap 'kill $$twin 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 50); do grep -q "firmware link" build/twin.log 2>/dev/null && break; sleep 0.2; done; \
	grep "^twin: .* on " build/twin.log || echo "fieldbench: the twin did not start (see build/twin.log)"; \
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

# libFuzzer targets (Debian clang, installed on demand; not in `make test`), each FUZZ_SECONDS:
# * fuzz_model_blob: the INT8 model blob parser; crashing inputs go to firmware/fuzz/regressions/,
#   replayed by ctest rt_fuzz_regressions;
# * bundle_fuzz: the bundle container, manifest and signature-encoding parsers (mbedTLS);
#   crashing inputs go to firmware/fuzz/bundle_seeds/, replayed by ctest bundle_fuzz_regressions.
# Another target: firmware/fuzz/<name>.cpp plus FUZZ_SRCS_/FUZZ_LIBS_/FUZZ_SEEDS_/FUZZ_OUT_/
# FUZZ_MAXLEN_<name> below, and its name in FUZZ_TARGETS.
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= fuzz_model_blob bundle_fuzz
FUZZ_RT := firmware/components/edge_runtime/src
FUZZ_SRCS_fuzz_model_blob := $(addprefix $(FUZZ_RT)/,runtime/model_parser.cpp \
  runtime/inference_runtime.cpp reference/int8_kernels.cpp pool.cpp)
FUZZ_LIBS_fuzz_model_blob :=
FUZZ_SEEDS_fuzz_model_blob := firmware/fuzz/seeds
FUZZ_OUT_fuzz_model_blob := firmware/fuzz/regressions
FUZZ_MAXLEN_fuzz_model_blob := 8192
FUZZ_SRCS_bundle_fuzz := $(sort $(wildcard $(FUZZ_RT)/bundle/*.cpp))
FUZZ_LIBS_bundle_fuzz := -lmbedcrypto
FUZZ_SEEDS_bundle_fuzz := firmware/fuzz/bundle_seeds
FUZZ_OUT_bundle_fuzz := firmware/fuzz/bundle_seeds
FUZZ_MAXLEN_bundle_fuzz := 16384
fuzz:
	@scripts/bootstrap-system.sh clang libclang-rt-dev
	@mkdir -p $(FUZZ_BUILD)
	@$(foreach t,$(FUZZ_TARGETS),$(call fuzz_one,$(t)))
	@echo "fuzz: $(FUZZ_TARGETS) ran $(FUZZ_SECONDS) s each without a crash"

# $(call fuzz_one,NAME): build NAME with its own sources and libraries, run it on a fresh copy
# of its seeds (one shell command; `set -e` stops at the first failure).
define fuzz_one
set -e; \
echo "== fuzz $(1): $(words $(FUZZ_SRCS_$(1))) runtime source(s) $(FUZZ_LIBS_$(1))"; \
test -n "$(FUZZ_SRCS_$(1))" || { echo "fuzz: no sources for $(1)"; exit 1; }; \
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -ffp-contract=off -Ifirmware/components/edge_runtime/include \
  firmware/fuzz/$(1).cpp $(FUZZ_SRCS_$(1)) $(FUZZ_LIBS_$(1)) -o $(FUZZ_BUILD)/$(1); \
rm -rf $(FUZZ_BUILD)/$(1)-corpus; mkdir -p $(FUZZ_BUILD)/$(1)-corpus $(FUZZ_OUT_$(1)); \
cp $(FUZZ_SEEDS_$(1))/* $(FUZZ_BUILD)/$(1)-corpus/; \
$(FUZZ_BUILD)/$(1) -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAXLEN_$(1)) \
  -print_final_stats=1 -artifact_prefix=$(FUZZ_OUT_$(1))/$(1)- $(FUZZ_BUILD)/$(1)-corpus;
endef
