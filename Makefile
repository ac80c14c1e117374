# The contract (DESIGN.md): build, run, test, bench.
.PHONY: all bootstrap web build build-asan build-debug run test test-slow bench fuzz format clean

JOBS ?= $(shell nproc)

all: build

bootstrap:
	@scripts/bootstrap

# The dashboard (web/ → web/dist), served by remhart at /.
web: bootstrap
	@scripts/web

build: bootstrap web
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target remhart

build-asan: bootstrap web
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

build-debug: bootstrap
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

run: build
	./build/remhart serve

# The test run needs only the sanitizer tree (its own remhart binary); `make build` is for `run`.
# Tests labelled `slow` (the Dockerfile's build stage: a whole release build) run apart.
test: build-asan
	@ctest --preset asan -j $(JOBS) -LE slow

test-slow: build-asan
	@ctest --preset asan -L slow

bench: build
	@cmake --build --preset release -j $(JOBS) --target remhart_bench powerflow_bench
	@scripts/bench

# libFuzzer on every parser of outside input: FUZZ_S seconds per target (default 60), totals
# added to fuzz/STATS.md (docs/fuzzing.md).
fuzz:
	@scripts/bootstrap fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@scripts/fuzz

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-debug build-fuzz web/dist
