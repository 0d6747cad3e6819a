# Salvus: `make run` starts it, `make test` checks it. Both install what is
# missing first (scripts/install-deps.sh) and build with CMake + Ninja.
BUILD ?= build
DATA ?= data
JOBS ?= $(shell nproc)

.PHONY: all deps configure build web run test test-asan test-asan-units bench lint format fuzz clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: deps $(BUILD)/build.ninja

build: configure web
	cmake --build $(BUILD) -j $(JOBS)

# The browser client (TypeScript + Vite), rebuilt when its sources change.
WEB_SOURCES := $(shell find web/src -type f) web/index.html web/package.json web/package-lock.json \
	web/vite.config.ts web/tsconfig.json
web: web/dist/index.html
web/dist/index.html: $(WEB_SOURCES)
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build
	@touch $@

run: build
	$(BUILD)/bin/salvus up --data $(DATA)

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 900

# Every test but the browser's and the soak, built with ASan + UBSan in
# $(ASAN_BUILD): any finding fails (scripts/sanitizers.sh).
ASAN_BUILD ?= build-asan
test-asan: deps web
	scripts/sanitizers.sh $(ASAN_BUILD) $(JOBS)

# The unit-test binaries only, sanitized the same way (what CI runs).
test-asan-units: deps
	SCOPE=units scripts/sanitizers.sh $(ASAN_BUILD) $(JOBS)

bench: build
	scripts/bench.sh $(BUILD)

# clang-tidy (.clang-tidy) over every C++ source; fails on any finding.
lint: build
	scripts/lint.sh $(BUILD)

# The fuzz targets (fuzz/), built with clang + libFuzzer + ASan/UBSan in
# $(FUZZ_BUILD), each run for FUZZ_SECONDS (two at once); fails on a crash.
FUZZ_SECONDS ?= 60
FUZZ_BUILD ?= build-fuzz
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) fuzz/run.sh

# Rewrites the C++ sources in the project's format (make test checks it).
format:
	scripts/format.sh

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(ASAN_BUILD)
