# Salvus: `make run` starts it, `make test` checks it. Both install what is
# missing first (scripts/install-deps.sh) and build with CMake + Ninja.
BUILD ?= build
DATA ?= data
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/run.sh $(BUILD) $(DATA)

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 900

bench: build
	scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD)
